// How the end of a message body is found (RFC 9112 §6.3), decided from its head, strictly: the
// ambiguous cases that let two parsers disagree about where a message ends are errors.

enum HTTPBodyFraming: Equatable {
    /// No body at all.
    case none
    /// Exactly this many bytes.
    case length(Int)
    /// The chunked transfer coding.
    case chunked
    /// Everything until the connection closes (responses only).
    case untilClose

    /// The framing that `fields` declare for a message of `version` (`HTTP/1.0` or `HTTP/1.1`);
    /// `otherwise` when they declare none.
    static func declared(by fields: HTTPFields, version: String, otherwise: HTTPBodyFraming) throws(HTTPParseError) -> HTTPBodyFraming {
        let codings = fields.listItems("transfer-encoding")
        let lengths = fields.listItems("content-length")
        if !codings.isEmpty {
            guard lengths.isEmpty else { throw .transferEncodingWithContentLength }
            let value = codings.joined(separator: ", ")
            guard version != "HTTP/1.0", codings.count == 1, codings[0].lowercased() == "chunked" else {
                throw .unsupportedTransferEncoding(value)
            }
            return .chunked
        }
        guard let first = lengths.first else { return otherwise }
        guard lengths.allSatisfy({ $0 == first }) else { throw .conflictingContentLengths }
        return .length(try contentLength(first))
    }

    /// A Content-Length value: digits only (no sign, no space), within Int.
    private static func contentLength(_ text: String) throws(HTTPParseError) -> Int {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count <= 18,
            digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { throw .badContentLength(String(text.prefix(40))) }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }
}
