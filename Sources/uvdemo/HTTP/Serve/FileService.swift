// The file server's side of HTTP/1.1: requests read one after another on each keep-alive connection,
// each answered with a file, a redirect or an error, until the client closes or goes idle.
import Glibc
import UVNet

struct FileService: Sendable {
    /// How long a connection may wait for its next request.
    static let idleTimeout: Duration = .seconds(15)
    /// How much of a file is read and written at a time.
    static let chunkSize = 256 * 1024

    let files: StaticFiles
    let verbose: Bool
    let console: Console

    /// Answers every connection `source` hands out (TCP, or TLS over it), each in a task of its own that
    /// closes it after, until the source is closed and every connection has ended.
    func serve(_ source: some ConnectionSource, _ open: OpenConnections) async {
        do {
            try await source.serve(onError: { error, _ in report(error) }) { connection in
                open.add(connection)
                defer { open.remove(connection) }
                try await answerRequests(on: connection)
            }
        } catch {
            console.error("\(error)")
        }
    }

    /// A client that resets, goes quiet, or leaves TLS without close_notify is that client's business:
    /// nothing to report.
    private func report(_ error: any Error) {
        if error.isAbruptDeparture || (error as? UVError) == .timedOut { return }
        console.error("\(error)")
    }

    private func answerRequests(on connection: some ByteStream) async throws {
        var reader = HTTPRequestReader()
        var buffer: [UInt8] = []
        var input = connection.inbound(idleTimeout: Self.idleTimeout).makeAsyncIterator()
        while true {
            let request: HTTPRequestHead?
            do {
                request = try reader.next(from: &buffer)
            } catch let error as HTTPParseError {
                if verbose { console.log("refused a request: \(error)") }
                try await send(HTTPStatus(refusing: error), keepAlive: false, on: connection)
                return try await connection.shutdown()
            }
            if let request {
                guard try await answer(request, on: connection) else { return try await connection.shutdown() }
                continue
            }
            guard let chunk = try await input.next() else { return }
            buffer += chunk
        }
    }

    /// Sends the response to `request`; returns whether the connection stays open for another.
    private func answer(_ request: HTTPRequestHead, on connection: some ByteStream) async throws -> Bool {
        let keepAlive = request.wantsKeepAlive
        let status: HTTPStatus
        var fields: [(String, String)] = []
        var file: String?
        if request.version == "HTTP/1.1" && request.fields.listItems("host").count != 1 {
            status = .badRequest  // RFC 9112 §3.2: exactly one Host.
        } else if request.method != "GET" && request.method != "HEAD" {
            status = .methodNotAllowed
            fields.append(("Allow", "GET, HEAD"))
        } else {
            switch files.lookup(request.path) {
            case .file(let path):
                status = .ok
                file = path
            case .directory(let location):
                status = .movedPermanently
                fields.append(("Location", location))
            case .notFound: status = .notFound
            case .forbidden: status = .forbidden
            case .badPath: status = .badRequest
            }
        }
        if verbose { console.log("\(request.method) \(request.target) \(status.code)") }
        guard let file else {
            try await send(status, fields: fields, keepAlive: keepAlive, withBody: request.method != "HEAD", on: connection)
            return keepAlive
        }
        return try await sendFile(
            file, range: request.fields["range"], keepAlive: keepAlive, withBody: request.method != "HEAD", on: connection)
    }

    /// Sends the file, whole (200) or the one range asked for (206), or says the range is past its end (416).
    private func sendFile(
        _ path: String, range: String?, keepAlive: Bool, withBody: Bool, on connection: some ByteStream
    ) async throws -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            try await send(errno == EACCES ? .forbidden : .notFound, keepAlive: keepAlive, on: connection)
            return keepAlive
        }
        defer { close(descriptor) }
        var status = stat()
        fstat(descriptor, &status)
        let size = Int(status.st_size)
        var fields = [("Content-Type", StaticFiles.contentType(of: path)), ("Accept-Ranges", "bytes")]
        let (first, end): (Int, Int)
        let answer: HTTPStatus
        switch HTTPRangeRequest(range, length: size) {
        case .whole:
            (first, end, answer) = (0, size, .ok)
            fields.append(("Content-Length", "\(size)"))
        case .bytes(let from, let last):
            (first, end, answer) = (from, last + 1, .partialContent)
            fields += [("Content-Range", "bytes \(from)-\(last)/\(size)"), ("Content-Length", "\(end - first)")]
        case .unsatisfiable:
            try await send(.rangeNotSatisfiable, fields: [("Content-Range", "bytes */\(size)")], keepAlive: keepAlive, on: connection)
            return keepAlive
        }
        let head = Self.head(answer, fields: fields, keepAlive: keepAlive)
        guard withBody else {
            try await connection.write(head)
            return keepAlive
        }
        // The head goes out with the first chunk of the file: one write, one packet for small files.
        var pending = Array(head.utf8)
        var chunk = [UInt8](repeating: 0, count: Self.chunkSize)
        var offset = first
        while offset < end {
            let wanted = min(chunk.count, end - offset)
            let read = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, wanted, off_t(offset)) }
            guard read > 0 else {
                // The file shrank under us: the promised length cannot be kept, so the connection ends.
                console.error(read < 0 ? "\(UVError(-errno, operation: "read", target: path))" : "\(path): shorter than its size")
                connection.abort()
                return false
            }
            offset += read
            if pending.isEmpty && read == chunk.count {
                try await connection.write(chunk)
            } else {
                pending += chunk[..<read]
                try await connection.write(pending)
                pending.removeAll()
            }
        }
        if !pending.isEmpty { try await connection.write(pending) }
        return keepAlive
    }

    /// A response with a short text body saying what the status means.
    private func send(
        _ status: HTTPStatus, fields: [(String, String)] = [], keepAlive: Bool, withBody: Bool = true, on connection: some ByteStream
    ) async throws {
        let body = "\(status.code) \(status.reason)\n"
        let head = Self.head(
            status, fields: fields + [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "\(body.utf8.count)")],
            keepAlive: keepAlive)
        try await connection.write(withBody ? head + body : head)
    }

    private static func head(_ status: HTTPStatus, fields: [(String, String)], keepAlive: Bool) -> String {
        var head = "HTTP/1.1 \(status.code) \(status.reason)\r\nServer: \(HTTPClient.userAgent)\r\nDate: \(HTTPDate.now())\r\n"
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        head += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        return head
    }
}

extension ByteStream {
    /// Ends the connection so that the client cannot mistake what it got for a whole response: TCP with
    /// an RST; any other stream closes (the Content-Length sent, and not met, tells the client).
    fileprivate func abort() {
        if let tcp = self as? TCPConnection { tcp.closeWithReset() } else { close() }
    }
}
