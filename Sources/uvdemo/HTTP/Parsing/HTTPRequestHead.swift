// The request line and header fields of a request, as the file server needs them.

struct HTTPRequestHead: Equatable {
    let method: String
    /// The request target in origin form: an absolute path and an optional query.
    let target: String
    /// `HTTP/1.0` or `HTTP/1.1`.
    let version: String
    let fields: HTTPFields

    /// The target's path, without the query.
    var path: Substring { target.prefix { $0 != "?" } }

    /// Whether the client wants the connection kept open after the response (RFC 9112 §9.3).
    var wantsKeepAlive: Bool {
        version == "HTTP/1.1" ? !fields.connectionHas("close") : fields.connectionHas("keep-alive")
    }

    /// Parses `METHOD /target HTTP/1.x`, single spaces between.
    init(requestLine line: String, fields: HTTPFields) throws(HTTPParseError) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].utf8.allSatisfy(\.isTokenByte),
            parts[1].first == "/", parts[1].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw .badStartLine(line) }
        let version = parts[2]
        guard version.hasPrefix("HTTP/"), version.count == 8, version.dropFirst(5).enumerated().allSatisfy({
            $0.offset == 1 ? $0.element == "." : $0.element.isASCII && $0.element.isNumber
        }) else { throw .badStartLine(line) }
        guard version == "HTTP/1.0" || version == "HTTP/1.1" else { throw .unsupportedVersion(String(version)) }
        method = String(parts[0])
        target = String(parts[1])
        self.version = String(version)
        self.fields = fields
    }
}
