// The file server's side of HTTP/1.1: requests read one after another on each keep-alive connection,
// each answered with a file, a redirect or an error, until the client closes or goes idle.
import Glibc
import UVNet

struct FileService: Sendable {
    /// How long a connection may wait for its next request.
    static let idleTimeout: Duration = .seconds(15)

    let files: StaticFiles
    let verbose: Bool
    let console: Console
    /// The files answered with lately, open; and the Date header, both kept on the serving loop.
    let openFiles: OpenFileCache
    let date: CurrentDate

    init(files: StaticFiles, verbose: Bool, console: Console, on loop: Loop) {
        self.files = files
        self.verbose = verbose
        self.console = console
        openFiles = OpenFileCache(on: loop)
        date = CurrentDate(on: loop)
    }

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
        var received: [UInt8] = []
        let response = ResponseBuffer()
        var input = connection.inbound(idleTimeout: Self.idleTimeout).makeAsyncIterator()
        while true {
            let request: HTTPRequestHead?
            do {
                request = try reader.next(from: &received)
            } catch let error as HTTPParseError {
                if verbose { console.log("refused a request: \(error)") }
                try await send(HTTPStatus(refusing: error), keepAlive: false, on: connection, using: response)
                return try await connection.shutdown()
            }
            if let request {
                guard try await answer(request, on: connection, using: response) else { return try await connection.shutdown() }
                continue
            }
            guard let chunk = try await input.next() else { return }
            received += chunk
        }
    }

    /// Sends the response to `request`; returns whether the connection stays open for another.
    private func answer(_ request: HTTPRequestHead, on connection: some ByteStream, using response: ResponseBuffer) async throws -> Bool {
        let keepAlive = request.wantsKeepAlive
        let withBody = request.method != "HEAD"
        let status: HTTPStatus
        var location: String?
        if request.version == "HTTP/1.1" && request.fields.listItems("host").count != 1 {
            status = .badRequest  // RFC 9112 §3.2: exactly one Host.
        } else if request.method != "GET" && request.method != "HEAD" {
            status = .methodNotAllowed
        } else {
            let now = CurrentDate.now
            if let served = openFiles.cached(request.path, now: now) {
                return try await sendFile(served, for: request, keepAlive: keepAlive, withBody: withBody, on: connection, using: response)
            }
            switch files.lookup(request.path) {
            case .file(let path):
                let served: ServedFile
                do {
                    served = try await openFiles.open(path, for: request.path, on: connection.loop, now: now)
                } catch let error as UVError {
                    status = HTTPStatus(opening: error)
                    break
                }
                // Outside the `do`: an error while sending is the connection's, not a reason to answer again.
                return try await sendFile(served, for: request, keepAlive: keepAlive, withBody: withBody, on: connection, using: response)
            case .directory(let redirect):
                status = .movedPermanently
                location = redirect
            case .notFound: status = .notFound
            case .forbidden: status = .forbidden
            case .badPath: status = .badRequest
            }
        }
        if verbose { console.log("\(request.method) \(request.target) \(status.code)") }
        try await send(status, location: location, keepAlive: keepAlive, withBody: withBody, on: connection, using: response)
        return keepAlive
    }

    /// Sends the file: 304 when the client's copy is current, else the whole (200) or the one range
    /// asked for (206), or says the range is past its end (416).
    private func sendFile(
        _ served: ServedFile, for request: HTTPRequestHead, keepAlive: Bool, withBody: Bool, on connection: some ByteStream,
        using response: ResponseBuffer
    ) async throws -> Bool {
        let validators = served.validators
        let size = served.size
        if validators.notModified(ifNoneMatch: request.fields["if-none-match"], ifModifiedSince: request.fields["if-modified-since"]) {
            if verbose { console.log("\(request.method) \(request.target) 304") }
            beginHead(.notModified, in: response)
            response.field("ETag", validators.entityTag)
            response.field("Last-Modified", validators.lastModified)
            endHead(keepAlive: keepAlive, in: response)
            try await connection.send(response)
            return keepAlive
        }
        // Range is for GET only (RFC 9110 §14.2): a HEAD gets the whole representation's head.
        let range =
            request.method == "GET" && validators.rangeApplies(ifRange: request.fields["if-range"], now: CurrentDate.now)
            ? HTTPRangeRequest(request.fields["range"], length: size) : .whole
        let (first, end): (Int, Int)
        switch range {
        case .whole:
            (first, end) = (0, size)
            beginHead(.ok, in: response)
        case .bytes(let from, let last):
            (first, end) = (from, last + 1)
            beginHead(.partialContent, in: response)
            response.append("Content-Range: bytes ")
            response.append(decimal: from)
            response.append("-")
            response.append(decimal: last)
            response.append("/")
            response.append(decimal: size)
            response.append("\r\n")
        case .unsatisfiable:
            if verbose { console.log("\(request.method) \(request.target) 416") }
            try await send(.rangeNotSatisfiable, contentRange: "bytes */\(size)", keepAlive: keepAlive, on: connection, using: response)
            return keepAlive
        }
        if verbose { console.log("\(request.method) \(request.target) \(range == .whole ? 200 : 206)") }
        response.field("Content-Type", served.contentType)
        response.field("Accept-Ranges", "bytes")
        response.field("Last-Modified", validators.lastModified)
        response.field("ETag", validators.entityTag)
        response.append("Content-Length: ")
        response.append(decimal: end - first)
        response.append("\r\n")
        endHead(keepAlive: keepAlive, in: response)
        guard withBody else {
            try await connection.send(response)
            return keepAlive
        }
        // The head goes out with the first piece of the file: one write, one packet for small files.
        var offset = first
        while offset < end {
            let room = response.room(for: end - offset)
            if room.isEmpty {
                try await connection.send(response)
                // A reader as fast as this loop would have it send the whole file in one go, the kernel
                // taking each piece at once: other connections get a turn between pieces.
                await Task.yield()
                continue
            }
            let read: Int
            do {
                read = try await served.file.read(into: room, at: offset)
            } catch {
                console.error("\(error)")
                read = -1
            }
            guard read > 0 else {
                // The file shrank under us: the promised length cannot be kept, so the connection ends
                // in a way the client cannot mistake for a whole response.
                if read == 0 { console.error("\(served.file.path): shorter than its size") }
                connection.closeWithReset()
                return false
            }
            response.didFill(read)
            offset += read
        }
        try await connection.send(response)
        if end - first > ResponseBuffer.initial { response.shrink() }
        return keepAlive
    }

    /// A response with a short text body saying what the status means.
    private func send(
        _ status: HTTPStatus, location: String? = nil, contentRange: String? = nil, keepAlive: Bool, withBody: Bool = true,
        on connection: some ByteStream, using response: ResponseBuffer
    ) async throws {
        let body = "\(status.code) \(status.reason)\n"
        beginHead(status, in: response)
        if status == .methodNotAllowed { response.field("Allow", "GET, HEAD") }
        if let location { response.field("Location", location) }
        if let contentRange { response.field("Content-Range", contentRange) }
        response.field("Content-Type", "text/plain; charset=utf-8")
        response.field("Content-Length", "\(body.utf8.count)")
        endHead(keepAlive: keepAlive, in: response)
        if withBody { response.append(body) }
        try await connection.send(response)
    }

    /// The status line and the fields every response has.
    private func beginHead(_ status: HTTPStatus, in response: ResponseBuffer) {
        response.append("HTTP/1.1 ")
        response.append(decimal: status.code)
        response.append(" ")
        response.append(status.reason)
        response.append("\r\n")
        response.field("Server", HTTPClient.userAgent)
        response.field("Date", date.text(at: CurrentDate.now))
    }

    private func endHead(keepAlive: Bool, in response: ResponseBuffer) {
        response.append(keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n")
    }
}


