// Header fields in the order they came, looked up by name without regard to case.

/// The header (or trailer) fields of one message.
struct HTTPFields: Sequence, Equatable {
    struct Field: Equatable {
        let name: String
        let value: String
    }

    private var fields: [Field] = []

    var count: Int { fields.count }

    mutating func append(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// The value of the first field called `name`, if any.
    subscript(name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every value of the fields called `name`, each comma-separated list item on its own, trimmed
    /// (RFC 9110 §5.3: repeated fields and a list in one field mean the same).
    func listItems(_ name: String) -> [String] {
        fields.filter { $0.name.lowercased() == name.lowercased() }
            .flatMap { $0.value.split(separator: ",", omittingEmptySubsequences: false) }
            .map { String($0.trimmingASCIISpaces()) }
    }

    /// Whether the `Connection` field lists `option` (`close`, `keep-alive`).
    func connectionHas(_ option: String) -> Bool {
        listItems("connection").contains { $0.lowercased() == option }
    }

    func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }
}

extension Substring {
    /// Without the spaces and tabs (HTTP's optional whitespace) at either end.
    func trimmingASCIISpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
