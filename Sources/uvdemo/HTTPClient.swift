// What fetch does with a URL: connect, send a GET, parse the response as it arrives, follow redirects,
// and deliver the body; every failure becomes one line naming the host and what failed.
import UVNet

struct HTTPClient: Sendable {
    enum Version: Sendable {
        /// `Connection: close`, read to the end of the framed body.
        case http1_1
        /// The seeds' style: an HTTP/1.0 request, the write side half-closed, read to EOF.
        case http1_0
    }

    static let userAgent = "uvdemo/\(UVDemo.configuration.version)"
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]

    let timeout: Duration
    let maxRedirects: Int
    let version: Version
    let include: Bool
    let verbose: Bool

    /// Fetches `url`, following redirects, and writes the body to stdout or `path`.
    func fetch(_ url: HTTPURL, to path: String?, on loop: Loop) async throws {
        var url = url
        var visited: Set<String> = [url.description]
        while true {
            let destination = ResponseDestination(path: path, include: include)
            guard let location = try await exchange(url, into: destination, on: loop) else { return }
            guard visited.count <= maxRedirects else {
                throw DemoFailure(message: "\(url): more than \(maxRedirects) redirects", exitCode: DemoFailure.networkFailure)
            }
            let next: HTTPURL
            do {
                next = try url.resolving(location)
            } catch {
                throw DemoFailure(message: "\(url): cannot follow the redirect: \(error)", exitCode: DemoFailure.networkFailure)
            }
            guard visited.insert(next.description).inserted else {
                throw DemoFailure(message: "\(url): redirect loop back to \(next)", exitCode: DemoFailure.networkFailure)
            }
            if verbose { Output.log("redirected to \(next)") }
            url = next
        }
    }

    /// One request and its response. Returns the Location to follow, or nil when the body was delivered.
    private func exchange(_ url: HTTPURL, into destination: ResponseDestination, on loop: Loop) async throws -> String? {
        let connection: TCPConnection
        do {
            connection = try await TCPConnection.connect(host: url.host, port: url.port, on: loop, timeout: timeout)
        } catch let error as UVError {
            // The error names the operation and the address already: "connect to 127.0.0.1:80: …".
            throw DemoFailure(message: "\(error)", exitCode: DemoFailure.networkFailure)
        }
        do {
            if verbose { Output.log("connected to \((try? connection.remoteAddress)?.description ?? url.hostHeader)") }
            let location = try await request(url, on: connection, into: destination)
            await connection.close()
            return location
        } catch {
            destination.discard()
            await connection.close()
            switch error {
            case let error as HTTPParseError: throw failure(url, "bad response: \(error)")
            case let error as UVError where error == .timedOut: throw failure(url, "no data for \(timeout)")
            case let error as UVError: throw failure(url, "\(error)")
            default: throw error
            }
        }
    }

    private func request(_ url: HTTPURL, on connection: TCPConnection, into destination: ResponseDestination) async throws -> String? {
        let requestLine =
            switch version {
            case .http1_1: "GET \(url.pathAndQuery) HTTP/1.1\r\nConnection: close\r\n"
            case .http1_0: "GET \(url.pathAndQuery) HTTP/1.0\r\n"
            }
        let request = requestLine + "Host: \(url.hostHeader)\r\nUser-Agent: \(Self.userAgent)\r\nAccept: */*\r\n\r\n"
        if verbose {
            for line in request.split(separator: "\r\n") { Output.log("> \(line)") }
        }
        try await connection.write(request, timeout: timeout)
        if version == .http1_0 { try await connection.shutdown() }

        var parser = HTTPResponseParser(requestMethod: "GET")
        var location: String?
        let handle = { (event: HTTPResponseParser.Event) throws in
            switch event {
            case .head(let head, let framing):
                if verbose { Output.log("< \(head.statusLine)") }
                if Self.redirectStatuses.contains(head.status), let target = head.fields["location"] {
                    location = target
                } else {
                    try destination.begin(head, framing: framing)
                }
            case .body(let bytes): try destination.write(bytes)
            case .end: break
            }
        }
        for try await chunk in connection.inbound(idleTimeout: timeout) {
            try chunk.withUnsafeBytes { _ = try parser.parse($0, handle) }
            if parser.isComplete || location != nil { break }
        }
        if !parser.isComplete && location == nil { try parser.finish(handle) }
        if let location { return location }
        try destination.finish(from: url)
        return nil
    }

    private func failure(_ url: HTTPURL, _ what: String) -> DemoFailure {
        DemoFailure(message: "\(url.hostHeader): \(what)", exitCode: DemoFailure.networkFailure)
    }
}
