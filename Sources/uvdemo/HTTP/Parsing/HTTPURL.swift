// An http:// or https:// URL, checked strictly before anything is sent: what fetch accepts on its command line
// and in a redirect's Location.
import Glibc

/// An absolute `http://` or `https://` URL: host, port, and the path and query to request (the
/// fragment dropped).
struct HTTPURL: Equatable, CustomStringConvertible {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case invalid(url: String, reason: String)
        case unsupportedScheme(url: String, scheme: String)

        var description: String {
            switch self {
            case .invalid(let url, let reason): "invalid URL '\(url)': \(reason)"
            case .unsupportedScheme(let url, let scheme):
                "'\(url)': the \(scheme):// scheme is not supported (use http:// or https://)"
            }
        }
    }

    /// https: the exchange runs over TLS, the server's certificate verified for `host`.
    let isSecure: Bool
    /// A name or an IPv4 address, or an IPv6 address without its brackets.
    let host: String
    let port: Int
    /// Starts with "/": the path, then the query if any.
    let pathAndQuery: String

    var isIPv6: Bool { host.contains(":") }

    var scheme: String { isSecure ? "https" : "http" }

    /// The port a URL of this scheme means when it names none.
    var defaultPort: Int { isSecure ? 443 : 80 }

    /// What the `Host` header carries: the host (bracketed when IPv6), and the port unless it is the
    /// scheme's default.
    var hostHeader: String {
        let host = isIPv6 ? "[\(host)]" : host
        return port == defaultPort ? host : "\(host):\(port)"
    }

    var description: String { "\(scheme)://\(hostHeader)\(pathAndQuery)" }

    /// Scheme, host and port: what a redirect may change without leaving the server.
    var origin: String { "\(scheme)://\(hostHeader)" }

    init(_ text: String) throws(Failure) {
        func invalid(_ reason: String) -> Failure { .invalid(url: printable(text.utf8, limit: 200), reason: reason) }
        guard !text.isEmpty else { throw invalid("it is empty") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw invalid("it contains a space, a control character or a non-ASCII character")
        }
        guard let separator = text.firstRange(of: "://") else { throw invalid("it is not an absolute http:// or https:// URL") }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else {
                throw invalid("it is not an absolute http:// or https:// URL")
            }
            throw .unsupportedScheme(url: text, scheme: scheme)
        }
        let afterScheme = text[separator.upperBound...].prefix { $0 != "#" }
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" }
        let rest = afterScheme[authority.endIndex...]
        guard !authority.contains("@") else { throw invalid("user names and passwords in URLs are not supported") }

        var hostPart: Substring
        var portPart: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw invalid("an IPv6 address without its ']'") }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw invalid("unexpected text after the IPv6 address") }
                portPart = after.dropFirst()
            }
            guard Self.isIPv6Address(hostPart) else { throw invalid("'\(hostPart)' is not an IPv6 address") }
        } else {
            let pieces = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw invalid("an IPv6 address must be in brackets") }
            hostPart = pieces[0]
            portPart = pieces.count == 2 ? pieces[1] : nil
            guard hostPart.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._~".contains($0)) }) else {
                throw invalid("the host '\(hostPart)' has characters a host name cannot have")
            }
        }
        guard !hostPart.isEmpty else { throw invalid("the host is empty") }

        isSecure = scheme == "https"
        var port = isSecure ? 443 : 80
        if let portPart, !portPart.isEmpty {
            guard portPart.count <= 5, portPart.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(portPart),
                (1...65535).contains(number)
            else { throw invalid("the port '\(portPart)' is not in 1...65535") }
            port = number
        }
        host = String(hostPart)
        self.port = port
        pathAndQuery = rest.isEmpty ? "/" : rest.hasPrefix("?") ? "/" + rest : String(rest)
    }

    private init(isSecure: Bool, host: String, port: Int, pathAndQuery: String) {
        self.isSecure = isSecure
        self.host = host
        self.port = port
        self.pathAndQuery = pathAndQuery
    }

    /// Where `reference` (a redirect's Location) points, read relative to this URL (RFC 3986 §5.2).
    func resolving(_ reference: String) throws(Failure) -> HTTPURL {
        let reference = String(reference.prefix { $0 != "#" })
        guard reference.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .invalid(url: printable(reference.utf8, limit: 200), reason: "it contains a space, a control character or a non-ASCII character")
        }
        if let colon = reference.firstIndex(of: ":"),
            reference[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }),
            reference.first?.isLetter == true
        {
            return try HTTPURL(reference)
        }
        if reference.hasPrefix("//") { return try HTTPURL("\(scheme):" + reference) }
        let path = pathAndQuery.prefix { $0 != "?" }
        let resolved: String
        if reference.isEmpty {
            resolved = pathAndQuery
        } else if reference.hasPrefix("?") {
            resolved = path + reference
        } else if reference.hasPrefix("/") {
            resolved = Self.removingDotSegments(reference)
        } else {
            let directory = path[...(path.lastIndex(of: "/") ?? path.startIndex)]
            resolved = Self.removingDotSegments(directory + reference)
        }
        return HTTPURL(isSecure: isSecure, host: host, port: port, pathAndQuery: resolved)
    }

    /// `pathAndQuery` with its `.` and `..` segments applied (RFC 3986 §5.2.4); the query is kept as is.
    static func removingDotSegments(_ pathAndQuery: String) -> String {
        let path = pathAndQuery.prefix { $0 != "?" }
        let query = pathAndQuery[path.endIndex...]
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var output: [Substring] = []
        for (offset, segment) in segments.enumerated() {
            let isLast = offset == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/") + query
    }

    private static func isIPv6Address(_ text: Substring) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, String(text), &address) == 1
    }
}
