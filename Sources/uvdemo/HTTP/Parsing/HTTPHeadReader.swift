// One message head read incrementally: the start line, the header fields, and the empty line that ends
// them, however the bytes are split, with limits on size and field count checked as bytes arrive.

/// Reads an HTTP/1.x head (or, without a start line, a chunked body's trailer section).
struct HTTPHeadReader {
    struct Limits {
        /// Start line, fields and line endings together.
        var maxBytes = 64 * 1024
        var maxFields = 100
    }

    let limits: Limits
    let expectsStartLine: Bool
    private(set) var startLine: String?
    private(set) var fields = HTTPFields()
    /// Bytes of the head taken so far.
    private(set) var byteCount = 0
    private var line: [UInt8] = []
    private var lineEndsAfterLF = false

    init(limits: Limits = Limits(), expectsStartLine: Bool = true) {
        self.limits = limits
        self.expectsStartLine = expectsStartLine
    }

    /// Takes bytes up to the end of the head. Returns how many it took and whether the head is complete;
    /// the bytes after it belong to the body.
    mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> (consumed: Int, isComplete: Bool) {
        for (index, byte) in bytes.enumerated() {
            byteCount += 1
            guard byteCount <= limits.maxBytes else { throw .headTooLarge(limit: limits.maxBytes) }
            if lineEndsAfterLF {
                guard byte == .lineFeed else { throw .bareLineEnding }
                lineEndsAfterLF = false
                if try endLine() { return (index + 1, true) }
            } else if byte == .carriageReturn {
                lineEndsAfterLF = true
            } else if byte == .lineFeed {
                throw .bareLineEnding
            } else {
                line.append(byte)
            }
        }
        return (bytes.count, false)
    }

    /// Files the line just ended; true when it was the empty line that ends the head.
    private mutating func endLine() throws(HTTPParseError) -> Bool {
        defer { line.removeAll(keepingCapacity: true) }
        if expectsStartLine && startLine == nil {
            guard line.allSatisfy({ $0.isFieldValueByte && $0 != .tab }) && !line.isEmpty else {
                throw .badStartLine(printable(line))
            }
            startLine = String(decoding: line, as: UTF8.self)
            return false
        }
        guard let first = line.first else { return true }
        if first == .space || first == .tab { throw .obsoleteLineFolding }
        guard fields.count < limits.maxFields else { throw .tooManyFields(limit: limits.maxFields) }
        // name ":" OWS value OWS, the name a token with no space before the colon (RFC 9112 §5).
        guard let colon = line.firstIndex(of: .colon), colon > 0,
            line[..<colon].allSatisfy(\.isTokenByte),
            line[(colon + 1)...].allSatisfy(\.isFieldValueByte)
        else { throw .badHeaderField(printable(line)) }
        let name = String(decoding: line[..<colon], as: UTF8.self)
        let value = String(decoding: line[(colon + 1)...], as: UTF8.self)[...].trimmingASCIISpaces()
        fields.append(name: name, value: String(value))
        return false
    }
}

extension UInt8 {
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let colon = UInt8(ascii: ":")

    /// tchar (RFC 9110 §5.6.2): what a field name or a method is made of.
    var isTokenByte: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(self)
        }
    }

    /// What a field value may hold: visible characters, space, tab and obs-text; never a control byte.
    var isFieldValueByte: Bool { self == .tab || (self >= 0x20 && self != 0x7F) }

    /// The value of a hexadecimal digit, or nil.
    var hexDigitValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): self - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
