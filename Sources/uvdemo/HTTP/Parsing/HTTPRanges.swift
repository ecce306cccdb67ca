// Byte ranges (RFC 9110 §14): the Range a client asks for, and the Content-Range a server answers with.
// One range only, as servers of static files commonly do; anything else is answered with the whole.

/// A `Range: bytes=…` request header, against a representation of a known length.
enum HTTPRangeRequest: Equatable {
    /// The bytes `first...last` (inclusive, within the length): answer 206.
    case bytes(first: Int, last: Int)
    /// A range that starts past the end: answer 416.
    case unsatisfiable
    /// No range, several, another unit, or a malformed one: answer 200 with everything.
    case whole

    /// Reads `header` (the field's value, nil when absent) for a representation of `length` bytes.
    init(_ header: String?, length: Int) {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else {
            self = .whole
            return
        }
        let spec = header.dropFirst("bytes=".count).trimmingASCIISpaces()
        guard let dash = spec.firstIndex(of: "-") else {
            self = .whole
            return
        }
        let start = spec[..<dash]
        let end = spec[spec.index(after: dash)...]
        if start.isEmpty {
            // A suffix: the last N bytes.
            guard let count = Self.number(end) else {
                self = .whole
                return
            }
            guard count > 0 else {
                self = .unsatisfiable
                return
            }
            self = length == 0 ? .unsatisfiable : .bytes(first: max(0, length - count), last: length - 1)
            return
        }
        guard let first = Self.number(start) else {
            self = .whole
            return
        }
        let last = end.isEmpty ? length - 1 : Self.number(end).map { min($0, length - 1) }
        guard let last, last >= first || end.isEmpty else {
            self = .whole  // last before first: invalid, so ignored
            return
        }
        self = first < length ? .bytes(first: first, last: last) : .unsatisfiable
    }

    /// Digits only (no sign, no spaces), at most 18 of them.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(text)
    }
}

/// A `Content-Range` response header: which bytes a 206 carries, or, with 416, the full length.
struct HTTPContentRange: Equatable {
    /// The first and last byte carried; nil in an unsatisfied-range answer (`bytes */length`).
    let range: ClosedRange<Int>?
    /// The representation's full length, when the server says it.
    let length: Int?

    /// Reads `bytes a-b/length`, `bytes a-b/*` or `bytes */length`; nil for anything else.
    init?(_ header: String) {
        guard header.hasPrefix("bytes ") else { return nil }
        let spec = header.dropFirst("bytes ".count).trimmingASCIISpaces()
        guard let slash = spec.firstIndex(of: "/") else { return nil }
        let rangePart = spec[..<slash]
        let lengthPart = spec[spec.index(after: slash)...]
        if lengthPart == "*" {
            length = nil
        } else {
            guard let total = Int(lengthPart), total >= 0 else { return nil }
            length = total
        }
        if rangePart == "*" {
            guard length != nil else { return nil }
            range = nil
            return
        }
        let bounds = rangePart.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Int(bounds[0]), let last = Int(bounds[1]), first >= 0, last >= first,
            length.map({ last < $0 }) ?? true
        else { return nil }
        range = first...last
    }
}
