// Why an HTTP/1.x message could not be parsed: a case a test can match, and the line a user reads.

/// Bytes from the wire (or a URL) as an error line can show them: anything but printable ASCII
/// escaped as `\xNN`, cut after `limit` bytes.
func printable(_ bytes: some Collection<UInt8>, limit: Int = 80) -> String {
    let shown = bytes.prefix(limit).map { byte in
        (0x20..<0x7F).contains(byte) ? String(UnicodeScalar(byte)) : "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
    }
    return shown.joined() + (bytes.count > limit ? "…" : "")
}

/// A malformed, oversized or truncated HTTP/1.x message (RFC 9112). Parsing stops at the first one.
enum HTTPParseError: Error, Equatable, CustomStringConvertible {
    /// The status line (or request line) is not `HTTP/1.x NNN reason` (or `METHOD target HTTP/1.x`).
    case badStartLine(String)
    /// A header field line that is not `name: value`, or with a control character in it.
    case badHeaderField(String)
    /// A header line that starts with a space: obsolete line folding, refused (RFC 9112 §5.2).
    case obsoleteLineFolding
    /// A CR not followed by LF, or a LF without its CR.
    case bareLineEnding
    /// The start line and header fields together are over the limit.
    case headTooLarge(limit: Int)
    /// More header fields than the limit.
    case tooManyFields(limit: Int)
    /// A `Content-Length` that is not a run of digits, or too large.
    case badContentLength(String)
    /// Several `Content-Length` values that disagree.
    case conflictingContentLengths
    /// Both `Transfer-Encoding` and `Content-Length`: a message smuggling attempt or a broken server.
    case transferEncodingWithContentLength
    /// A transfer coding other than `chunked` alone, or `Transfer-Encoding` in an HTTP/1.0 message.
    case unsupportedTransferEncoding(String)
    /// A chunk-size line that is not hexadecimal digits (and an extension), or too large.
    case badChunkSize
    /// Chunk data not followed by CRLF.
    case badChunkEnd
    /// `101 Switching Protocols` to a request that asked for no upgrade.
    case unexpectedSwitchingProtocols
    /// A well-formed HTTP version other than 1.0 and 1.1.
    case unsupportedVersion(String)
    /// The connection ended before the message did.
    case truncated(String)

    var description: String {
        switch self {
        case .badStartLine(let line): "malformed start line '\(line)'"
        case .badHeaderField(let line): "malformed header field '\(line)'"
        case .obsoleteLineFolding: "obsolete line folding in the header section"
        case .bareLineEnding: "a line ended by a bare CR or LF, not CRLF"
        case .headTooLarge(let limit): "header section over \(limit) bytes"
        case .tooManyFields(let limit): "more than \(limit) header fields"
        case .badContentLength(let value): "malformed Content-Length '\(value)'"
        case .conflictingContentLengths: "conflicting Content-Length values"
        case .transferEncodingWithContentLength: "both Transfer-Encoding and Content-Length"
        case .unsupportedTransferEncoding(let coding): "unsupported Transfer-Encoding '\(coding)'"
        case .badChunkSize: "malformed chunk size"
        case .badChunkEnd: "chunk data not followed by CRLF"
        case .unexpectedSwitchingProtocols: "unexpected 101 Switching Protocols"
        case .unsupportedVersion(let version): "unsupported HTTP version '\(version)'"
        case .truncated(let detail): "the connection closed \(detail)"
        }
    }
}
