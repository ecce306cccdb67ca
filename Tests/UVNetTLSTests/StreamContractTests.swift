// What every byte stream promises, checked on every kind there is: TCP, Unix-domain, the in-memory
// pair, and TLS over a Unix socket, over the in-memory pair and inside another TLS connection. No byte
// lost through a half-close, a canceled read taking nothing, a lagging reader's buffering bounded,
// and a scoped server closing every connection when its task is canceled.
import Testing
import UVNet
import UVNetTLS
import UVNetTestSupport

/// A kind of stream, and how to make a connected pair of it.
enum StreamKind: String, CaseIterable, CustomTestStringConvertible {
    case tcp, unix, memory, tlsOverUnix, tlsOverMemory, tlsInsideTLS

    var testDescription: String { rawValue }

    /// A connected pair on `loop`; `certificates` serve TLS, and their directory holds a Unix socket.
    func pair(on loop: Loop, _ certificates: TestCertificates) async throws -> (client: any ByteStream, server: any ByteStream) {
        switch self {
        case .tcp:
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            defer { listener.close(nil) }
            return try await connectedPair(through: listener, on: loop)
        case .unix:
            let listener = try UnixListener(on: loop, path: certificates.directory + "/\(rawValue).sock")
            defer { listener.close(nil) }
            return try await connectedPair(through: listener, on: loop)
        case .memory:
            return MemoryStream.pair(on: loop)
        case .tlsOverUnix:
            return try await Self.secured(StreamKind.unix.pair(on: loop, certificates), certificates)
        case .tlsOverMemory:
            return try await Self.secured(StreamKind.memory.pair(on: loop, certificates), certificates)
        case .tlsInsideTLS:
            return try await Self.secured(StreamKind.tlsOverMemory.pair(on: loop, certificates), certificates)
        }
    }

    private static func secured(
        _ transports: (client: any ByteStream, server: any ByteStream), _ certificates: TestCertificates
    ) async throws -> (client: any ByteStream, server: any ByteStream) {
        async let server = TLSConnection.secure(transports.server, context: certificates.serverContext)
        let client = try await TLSConnection.secure(transports.client, serverName: "localhost", context: certificates.clientContext)
        return (client, try await server)
    }
}

@Suite("The stream contract, on every kind of stream")
struct StreamContractTests {
    @Test("every byte arrives, both ways, through each side's half-close", arguments: StreamKind.allCases)
    func noByteLost(_ kind: StreamKind) throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (echoedWhole, serverEndedCleanly) = try loop.run {
                let (client, server) = try await kind.pair(on: loop, certificates)
                let sent = pattern(count: 3 << 20, seed: 11)
                async let echoed: Void = {
                    for try await chunk in server.inbound() { try await server.write(chunk) }
                    try await server.shutdown()
                }()
                async let written: Void = {
                    try await client.write(sent)
                    try await client.shutdown()
                }()
                var received: [UInt8] = []
                for try await chunk in client.inbound() { received += chunk }
                try await written
                var serverEndedCleanly = true
                do { try await echoed } catch { serverEndedCleanly = false }
                await client.close()
                await server.close()
                return (received == sent, serverEndedCleanly)
            }
            #expect(echoedWhole)
            #expect(serverEndedCleanly)
        }
    }

    @Test("a read canceled while it waits takes nothing: the next iterator gets every byte after the first", arguments: StreamKind.allCases)
    func canceledReadLosesNothing(_ kind: StreamKind) throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (whole, canceled) = try loop.run {
                let (client, server) = try await kind.pair(on: loop, certificates)
                let sent = pattern(count: 200_000, seed: 4)
                try await server.write(Array(sent[..<1000]))
                let hasFirst = LoopBound(false, on: loop)
                let firstRead = Task(executorPreference: loop.taskExecutor) { () -> ([UInt8], Bool) in
                    var chunks = client.inbound().makeAsyncIterator()
                    var first: [UInt8] = []
                    while first.count < 1000, let chunk = try await chunks.next() { first += chunk }
                    hasFirst.value = true
                    do {
                        _ = try await chunks.next()  // waits: nothing more has been sent yet
                        return (first, false)
                    } catch is CancellationError {
                        return (first, true)
                    }
                }
                while !hasFirst.value { await Task.yield() }
                await Task.yield()  // most often, the reader is waiting again by now; if not, its next() sees the cancellation
                firstRead.cancel()
                let (first, canceled) = try await firstRead.value
                async let written: Void = {
                    try await server.write(Array(sent[1000...]))
                    try await server.shutdown()
                }()
                var rest: [UInt8] = []
                for try await chunk in client.inbound() { rest += chunk }
                try await written
                await client.close()
                await server.close()
                return (first + rest == sent, canceled)
            }
            #expect(canceled)
            #expect(whole)
        }
    }

    @Test("a reader that lags keeps at most about its high watermark buffered, and then gets every byte", arguments: StreamKind.allCases)
    func lagBoundsBuffering(_ kind: StreamKind) throws {
        let certificates = try TestCertificates()
        let high = 64 * 1024
        try withLoop { loop in
            let (whole, peak) = try loop.run {
                let (client, server) = try await kind.pair(on: loop, certificates)
                let sent = pattern(count: 6 << 20, seed: 2)
                async let written: Void = {
                    try await server.write(sent)
                    try await server.shutdown()
                }()
                let inbound = client.inbound(highWatermark: high, lowWatermark: high / 4)
                var chunks = inbound.makeAsyncIterator()
                var received = try await chunks.next() ?? []
                // The consumer lags: the stream reads ahead until the watermark stops it.
                while inbound.peakBufferedBytes < high { await Task.yield() }
                while let chunk = try await chunks.next() { received += chunk }
                try await written
                let peak = inbound.peakBufferedBytes
                await client.close()
                await server.close()
                return (received == sent, peak)
            }
            #expect(whole)
            // One read past the watermark at most (a read buffer's worth; for TLS, a record's more).
            #expect(peak <= high + 64 * 1024 + 16 * 1024 + 512, "peak \(peak)")
        }
    }
}

/// A kind of listener, and a client of it.
enum ListenerKind: String, CaseIterable, CustomTestStringConvertible {
    case tcp, unix, tlsOverUnix

    var testDescription: String { rawValue }

    /// The listener, and how to connect a client to it.
    func listen(on loop: Loop, _ certificates: TestCertificates) throws -> (any ConnectionSource, () async throws -> any ByteStream) {
        let path = certificates.directory + "/\(rawValue).sock"
        switch self {
        case .tcp:
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let address = try listener.localAddress
            return (listener, { try await TCPConnection.connect(to: address, on: loop) })
        case .unix:
            return (try UnixListener(on: loop, path: path), { try await UnixConnection.connect(to: path, on: loop) })
        case .tlsOverUnix:
            let listener = TLSListener(try UnixListener(on: loop, path: path), context: try certificates.serverContext)
            return (listener, {
                let transport = try await UnixConnection.connect(to: path, on: loop)
                return try await TLSConnection.secure(transport, serverName: "localhost", context: certificates.clientContext)
            })
        }
    }
}

/// Serves an echo on `source` until the task is canceled; `served` collects the connections.
private func serveEcho(_ source: some ConnectionSource, served: LoopBound<[any ByteStream]>) async throws {
    try await source.serve(onError: nil) { connection in
        served.value.append(connection)
        for try await chunk in connection.inbound() { try await connection.write(chunk) }
    }
}

extension StreamContractTests {
    @Test("canceling a scoped server's task closes every connection it serves, and serve throws CancellationError", arguments: ListenerKind.allCases)
    func canceledServerClosesEverything(_ kind: ListenerKind) throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (echoes, serverSides, serveEnd) = try loop.run {
                let (source, connect) = try kind.listen(on: loop, certificates)
                let served = LoopBound<[any ByteStream]>([], on: loop)
                let server = Task(executorPreference: loop.taskExecutor) { try await serveEcho(source, served: served) }
                var clients: [any ByteStream] = []
                var echoes: [String] = []
                for index in 0..<3 {
                    let client = try await connect()
                    try await client.write("hello \(index)")
                    var chunks = client.inbound().makeAsyncIterator()
                    echoes.append(String(decoding: try await chunks.next() ?? [], as: UTF8.self))
                    clients.append(client)
                }
                while served.value.count < 3 { await Task.yield() }
                server.cancel()
                var serveEnd = "returned"
                do { try await server.value } catch is CancellationError { serveEnd = "canceled" } catch { serveEnd = "\(error)" }
                let serverSides = served.value.map { $0.state }
                for client in clients {
                    // The server's end reaches each client: a clean end, a reset or a TLS truncation.
                    do { for try await _ in client.inbound() {} } catch {}
                    await client.close()
                }
                return (echoes, serverSides, serveEnd)
            }
            #expect(echoes == ["hello 0", "hello 1", "hello 2"])
            #expect(serverSides == [.closed, .closed, .closed])
            #expect(serveEnd == "canceled")
        }
    }
}
