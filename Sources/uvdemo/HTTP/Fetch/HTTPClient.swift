// What fetch does with a URL: connect, send the request, parse the response as it arrives, follow
// redirects, try again after failures that may pass, and deliver the body; every failure becomes one
// line naming the host and what failed.
import Glibc
import UVNet
import UVNetTLS

struct HTTPClient: Sendable {
    enum Version: Sendable {
        /// `Connection: close`, read to the end of the framed body.
        case http1_1
        /// The seeds' style: an HTTP/1.0 request, the write side half-closed, read to EOF.
        case http1_0
    }

    struct Options: Sendable {
        var timeout: Duration
        var maxRedirects: Int
        var version: Version
        var method: String
        var headers: [HeaderField]
        var include: Bool
        var verbose: Bool
        var retries: Int
        var retryDelay: Duration
    }

    static let userAgent = "uvdemo/\(UVDemo.configuration.version)"
    static let redirectStatuses: Set<Int> = [301, 302, 303, 307, 308]
    /// The -H fields a redirect to another origin does not carry.
    static let credentialFields: Set<String> = ["authorization", "cookie", "proxy-authorization"]
    /// The longest wait between retries, whatever Retry-After says.
    static let longestRetryWait: Duration = .seconds(600)

    private(set) var options: Options
    /// Whom https:// servers must prove to be (ALPN http/1.1).
    let tls: TLSContext
    let console: Console

    /// A failure that may pass: tried again after `wait` (nil: the backoff's own) while retries remain.
    struct Transient: Error {
        let failure: DemoFailure
        let wait: Duration?
    }

    /// Fetches `url`, following redirects and retrying, and delivers the body to `target`.
    func fetch(_ url: HTTPURL, into target: ResponseDestination.Target, on loop: Loop) async throws {
        var delay = options.retryDelay
        for attempt in 0... {
            do {
                return try await follow(url, into: target, canRetry: attempt < options.retries, on: loop)
            } catch let transient as Transient {
                guard attempt < options.retries else { throw transient.failure }
                let wait = min(transient.wait ?? delay, Self.longestRetryWait)
                console.error("\(transient.failure.message); trying again in \(wait) (retry \(attempt + 1) of \(options.retries))")
                try await loop.sleep(for: wait)
                delay *= 2
            }
        }
    }

    /// One attempt: the request, and the redirects it leads to.
    private func follow(_ url: HTTPURL, into target: ResponseDestination.Target, canRetry: Bool, on loop: Loop) async throws {
        var url = url
        var visited: Set<String> = [url.description]
        var client = self
        while true {
            let destination = try ResponseDestination(target, include: options.include, console: console)
            guard let location = try await client.exchange(url, into: destination, canRetry: canRetry, on: loop) else { return }
            guard visited.count <= options.maxRedirects else {
                throw DemoFailure(message: "\(url): more than \(options.maxRedirects) redirects", exitCode: DemoFailure.networkFailure)
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
            if options.verbose { console.log("redirected to \(next)") }
            if next.origin != url.origin {
                // As curl does: -H credentials are for the server they were given for, and never go
                // out in clear after a redirect from https to http.
                client.options.headers.removeAll { Self.credentialFields.contains($0.name.lowercased()) }
            }
            url = next
        }
    }

    /// One request and its response. Returns the Location to follow, or nil when the body was delivered.
    private func exchange(
        _ url: HTTPURL, into destination: ResponseDestination, canRetry: Bool, on loop: Loop
    ) async throws -> String? {
        let transport: TCPConnection
        do {
            transport = try await TCPConnection.connect(host: url.host, port: url.port, on: loop, timeout: options.timeout)
        } catch let error as UVError {
            // The error names the operation and the address already: "connect to 127.0.0.1:80: …".
            let failure = DemoFailure(message: "\(error)", exitCode: DemoFailure.networkFailure)
            // A name that does not resolve stays so; a refused or unreachable server may come back.
            if error == .hostNotFound || error == .serviceNotFound { throw failure }
            throw Transient(failure: failure, wait: nil)
        }
        if options.verbose { console.log("connected to \((try? transport.remoteAddress)?.description ?? url.hostHeader)") }
        guard url.isSecure else { return try await exchange(url, over: transport, into: destination, canRetry: canRetry) }
        let connection: TLSConnection
        do {
            connection = try await TLSConnection.secure(transport, serverName: url.host, context: tls)
        } catch let error as TLSError {
            // "TLS handshake with example.com: certificate has expired": a certificate stays as it is,
            // but a server too busy to finish the handshake may not be.
            let failure = DemoFailure.network(error)
            throw error.reason == .handshakeTimedOut ? Transient(failure: failure, wait: nil) : failure
        } catch let error as UVError {
            // Reset or cut off during the handshake: as a failed connect, worth another try.
            throw Transient(failure: failure(url, "TLS handshake: \(error)"), wait: nil)
        }
        if options.verbose {
            let alpn = connection.negotiatedProtocol.map { "ALPN \($0)" } ?? "no ALPN"
            console.log("TLS: \(connection.protocolVersion), \(connection.cipherSuite ?? "?"), \(alpn)")
        }
        return try await exchange(url, over: connection, into: destination, canRetry: canRetry)
    }

    /// The exchange over a connected stream, plain or TLS: closed (close_notify first) however it ends.
    private func exchange<Connection: ByteStream>(
        _ url: HTTPURL, over connection: Connection, into destination: ResponseDestination, canRetry: Bool
    ) async throws -> String? {
        do {
            let location = try await request(url, on: connection, into: destination, canRetry: canRetry)
            await connection.close()
            return location
        } catch {
            destination.discard()
            await connection.close()
            switch error {
            case let error as HTTPParseError: throw failure(url, "bad response: \(error)")
            case let error as UVError where error == .timedOut:
                throw Transient(failure: failure(url, "no data for \(options.timeout)"), wait: nil)
            case let error as UVError: throw failure(url, "\(error)")
            // A refused client certificate surfaces here over TLS 1.3: exit 1, as DemoFailure.network says.
            case let error as TLSError: throw failure(url, error.detail, exitCode: DemoFailure.network(error).exitCode)
            default: throw error
            }
        }
    }

    private func request<Connection: ByteStream>(
        _ url: HTTPURL, on connection: Connection, into destination: ResponseDestination, canRetry: Bool
    ) async throws -> String? {
        let request = requestHead(for: url, resumingAt: destination.resumeOffset)
        if options.verbose {
            for line in request.split(separator: "\r\n") { console.log("> \(line)") }
        }
        try await connection.write(request, timeout: options.timeout)
        // (Not over TLS: its shutdown is a close_notify, after which a TLS 1.2 server may close
        // without answering; the server's own close ends the response there.)
        if options.version == .http1_0 && !url.isSecure { try await connection.shutdown() }

        var parser = HTTPResponseParser(requestMethod: options.method)
        var location: String?
        var transient: Transient?
        func handle(_ event: HTTPResponseParser.Event) throws {
            switch event {
            case .head(let head, let framing):
                if options.verbose { console.log("< \(head.statusLine)") }
                if Self.redirectStatuses.contains(head.status), let target = head.fields["location"] {
                    location = target
                } else if canRetry, let wait = Self.retryWait(for: head) {
                    transient = Transient(failure: statusFailure(head, url), wait: wait.seconds)
                } else {
                    try destination.begin(head, framing: framing, url: url)
                }
            case .body(let bytes): try destination.write(bytes)
            case .end: break
            }
        }
        for try await chunk in connection.inbound(idleTimeout: options.timeout) {
            try chunk.withUnsafeBytes { _ = try parser.parse($0, handle) }
            if parser.isComplete || location != nil || transient != nil { break }
        }
        if let transient { throw transient }
        if !parser.isComplete && location == nil { try parser.finish(handle) }
        if let location { return location }
        try destination.finish(from: url)
        return nil
    }

    /// The request head: the request line, then Host, User-Agent and Accept unless -H gave them, the
    /// range to resume from, and the -H fields.
    private func requestHead(for url: HTTPURL, resumingAt offset: Int) -> String {
        var head =
            switch options.version {
            case .http1_1: "\(options.method) \(url.pathAndQuery) HTTP/1.1\r\nConnection: close\r\n"
            case .http1_0: "\(options.method) \(url.pathAndQuery) HTTP/1.0\r\n"
            }
        let given = Set(options.headers.map { $0.name.lowercased() })
        for (name, value) in [("Host", url.hostHeader), ("User-Agent", Self.userAgent), ("Accept", "*/*")]
        where !given.contains(name.lowercased()) {
            head += "\(name): \(value)\r\n"
        }
        if offset > 0 { head += "Range: bytes=\(offset)-\r\n" }
        for field in options.headers { head += "\(field.name): \(field.value)\r\n" }
        return head + "\r\n"
    }

    /// For a status worth trying again (408, 429, 5xx), how long to wait: what Retry-After says (in
    /// seconds or as a date), or the backoff's own (a nil inside). Nil for any other status.
    static func retryWait(for head: HTTPResponseHead) -> RetryWait? {
        guard head.status == 408 || head.status == 429 || (500..<600).contains(head.status) else { return nil }
        guard let value = head.fields["retry-after"]?.trimmingCharacters() else { return RetryWait(seconds: nil) }
        if let seconds = Int(value), seconds >= 0 { return RetryWait(seconds: .seconds(seconds)) }
        if let date = HTTPDate.parse(value) { return RetryWait(seconds: .seconds(max(0, Int(date) - Int(time(nil))))) }
        return RetryWait(seconds: nil)
    }

    struct RetryWait {
        let seconds: Duration?
    }

    private func statusFailure(_ head: HTTPResponseHead, _ url: HTTPURL) -> DemoFailure {
        DemoFailure(message: "\(url.hostHeader): \(head.statusLine.dropFirst(9)) for \(url)", exitCode: DemoFailure.remoteRefused)
    }

    private func failure(_ url: HTTPURL, _ what: String, exitCode: Int32 = DemoFailure.networkFailure) -> DemoFailure {
        DemoFailure(message: "\(url.hostHeader): \(what)", exitCode: exitCode)
    }
}

extension String {
    /// Without spaces and tabs at either end.
    fileprivate func trimmingCharacters() -> String {
        String(self[...].trimmingASCIISpaces())
    }
}
