// The status line and header fields of a response.

struct HTTPResponseHead: Equatable {
    /// `HTTP/1.0` or `HTTP/1.1`.
    let version: String
    let status: Int
    let reason: String
    let fields: HTTPFields

    /// The status line as the server sent it.
    var statusLine: String { reason.isEmpty ? "\(version) \(status)" : "\(version) \(status) \(reason)" }

    var isSuccess: Bool { (200..<300).contains(status) }

    /// Parses `HTTP/1.x NNN reason`; the reason may be empty, and so may the space before it.
    init(statusLine line: String, fields: HTTPFields) throws(HTTPParseError) {
        let bytes = Array(line.utf8)
        guard bytes.count >= 12, bytes.starts(with: Array("HTTP/1.".utf8)),
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[7]), bytes[8] == .space,
            bytes[9..<12].allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            bytes.count == 12 || bytes[12] == .space
        else { throw .badStartLine(line) }
        let status = Int(String(decoding: bytes[9..<12], as: UTF8.self))!
        guard (100...599).contains(status) else { throw .badStartLine(line) }
        self.version = String(decoding: bytes[0..<8], as: UTF8.self)
        self.status = status
        self.reason = bytes.count > 13 ? String(decoding: bytes[13...], as: UTF8.self) : ""
        self.fields = fields
    }
}
