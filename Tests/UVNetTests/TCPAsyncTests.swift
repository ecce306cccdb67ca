// TCP with async/await: echo, many clients, backpressure, cancellation, timeouts, scoped connections.
import Testing
import UVNet
import UVNetTestSupport

/// An async echo server on the loop: one child task per connection, as the README shows.
private func serveEcho(_ listener: TCPListener) async {
    await withDiscardingTaskGroup { group in
        do {
            for try await connection in listener.connections {
                group.addTask {
                    do {
                        for try await chunk in connection.inbound() { try await connection.write(chunk) }
                        try await connection.shutdown()
                    } catch {}
                    await connection.close()
                }
            }
        } catch {}
    }
}

/// Sends `payload`, half-closes, and collects the echo until EOF.
private func roundTrip(_ payload: [UInt8], to address: SocketAddress, on loop: Loop) async throws -> [UInt8] {
    try await TCPConnection.withConnection(to: address, on: loop) { connection in
        try await connection.write(payload)
        try await connection.shutdown()
        var echoed: [UInt8] = []
        for try await chunk in connection.inbound() { echoed += chunk }
        return echoed
    }
}

@Suite("TCP async")
struct TCPAsyncTests {
    @Test("the async echo returns the same bytes as the callback echo")
    func asyncEqualsCallback() throws {
        let payload = pattern(count: 300_000, seed: 9)
        try withLoop { loop in
            let asyncListener = try TCPListener(on: loop, address: anyLocalPort)
            let callbackServer = try EchoServerFixture(on: loop)
            let (fromAsync, fromCallback) = try loop.run {
                async let server: Void = serveEcho(asyncListener)
                let fromAsync = try await roundTrip(payload, to: asyncListener.localAddress, on: loop)
                let fromCallback = try await roundTrip(payload, to: callbackServer.address, on: loop)
                await asyncListener.close()
                await callbackServer.listener.close()
                await server
                return (fromAsync, fromCallback)
            }
            #expect(fromAsync == payload)
            #expect(fromCallback == fromAsync)
        }
    }

    @Test("100 concurrent async clients each get their own bytes back")
    func hundredClients() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let mismatches = try loop.run {
                async let server: Void = serveEcho(listener)
                let address = try listener.localAddress
                let mismatches = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<100 {
                        group.addTask {
                            let payload = pattern(count: 2000 + index * 13, seed: index)
                            return try await roundTrip(payload, to: address, on: loop) == payload
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 0 : 1) }
                }
                await listener.close()
                await server
                return mismatches
            }
            #expect(mismatches == 0)
        }
    }

    @Test("a slow consumer of 64 MiB keeps at most a bounded number of bytes buffered")
    func backpressure() throws {
        let total = 64 * 1024 * 1024
        let highWatermark = 256 * 1024
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (received, peak) = try loop.run {
                let address = try listener.localAddress
                // The peer: a callback writer that pushes 64 MiB as fast as the kernel takes it.
                let writer = try await TCPConnection.connect(to: address, on: loop)
                let chunk = [UInt8](repeating: 7, count: 1024 * 1024)
                // The callback forms (a completion argument picks them in async code): queue it all now.
                for _ in 0..<(total / chunk.count) { writer.write(chunk, completion: nil) }
                writer.shutdown(nil)
                var iterator = listener.connections.makeAsyncIterator()
                let reader = try #require(try await iterator.next())
                let inbound = reader.inbound(highWatermark: highWatermark, lowWatermark: 64 * 1024)
                var received = 0
                var chunks = 0
                for try await bytes in inbound {
                    received += bytes.count
                    chunks += 1
                    if chunks % 16 == 0 { try await loop.sleep(for: .milliseconds(1)) }  // a slow consumer
                }
                await reader.close()
                await writer.close()
                await listener.close()
                return (received, inbound.peakBufferedBytes)
            }
            #expect(received == total)
            // Above the high watermark reading stops; one read (at most 64 KiB) may land on top.
            #expect(peak <= highWatermark + 64 * 1024, "buffered \(peak) bytes")
        }
    }

    @Test("canceling a pending read ends it with CancellationError; the connection stays usable")
    func cancelRead() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let echoed = try loop.run {
                let connection = try await TCPConnection.connect(to: server.address, on: loop)
                let reader = Task(executorPreference: loop.taskExecutor) {
                    var iterator = connection.inbound().makeAsyncIterator()
                    return try await iterator.next()
                }
                try await loop.sleep(for: .milliseconds(5))
                reader.cancel()
                let outcome = await reader.result
                #expect(throws: CancellationError.self) { try outcome.get() }
                try await connection.write("still here")
                try await connection.shutdown()
                var echoed: [UInt8] = []
                for try await chunk in connection.inbound() { echoed += chunk }
                await connection.close()
                await server.listener.close()
                return String(decoding: echoed, as: UTF8.self)
            }
            #expect(echoed == "still here")
        }
    }

    @Test("canceling a connect closes its attempt; canceling a blocked write leaves the connection open")
    func cancelConnectAndWrite() throws {
        try withLoop { loop in
            // A listener that never reads: writes to it back up once the kernel buffers are full.
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            try loop.run {
                let address = try listener.localAddress
                let connecting = Task(executorPreference: loop.taskExecutor) {
                    try await TCPConnection.connect(to: address, on: loop)
                }
                connecting.cancel()
                await #expect(throws: CancellationError.self) { try await connecting.value }

                let connection = try await TCPConnection.connect(to: address, on: loop)
                let writing = Task(executorPreference: loop.taskExecutor) {
                    try await connection.write([UInt8](repeating: 1, count: 32 * 1024 * 1024))
                }
                try await loop.sleep(for: .milliseconds(20))
                writing.cancel()
                await #expect(throws: CancellationError.self) { try await writing.value }
                #expect(connection.state == .open, "a canceled write closed its connection")
                await connection.close()
                await listener.close()
            }
            #expect(loop.openHandleCount == 0)
        }
    }

    @Test("timeouts fire and name the operation: connect, read, write")
    func timeouts() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            try loop.run {
                let address = try listener.localAddress
                // Connect: a listener with a backlog of 1 that accepts nothing. Once its queue is full the
                // kernel drops further SYNs, so later connects hang until their timeout.
                let full = try TCPListener(on: loop, address: anyLocalPort, backlog: 1)
                let fullAddress = try full.localAddress
                let attempts = await withTaskGroup(of: Result<TCPConnection, any Error>.self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            do {
                                return .success(try await TCPConnection.connect(to: fullAddress, on: loop, timeout: .milliseconds(200)))
                            } catch {
                                return .failure(error)
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let timedOut = attempts.compactMap { attempt -> UVError? in
                    if case .failure(let error as UVError) = attempt, error == .timedOut { return error }
                    return nil
                }
                #expect(!timedOut.isEmpty, "no connect timed out")
                #expect(timedOut.allSatisfy { $0.description.hasPrefix("connect to \(fullAddress)") })
                for case .success(let connection) in attempts { await connection.close() }
                await full.close()

                let connection = try await TCPConnection.connect(to: address, on: loop)
                let readError = await #expect(throws: UVError.self) {
                    for try await _ in connection.inbound(idleTimeout: .milliseconds(30)) {}
                }
                #expect(readError == .timedOut)
                #expect(readError?.description.hasPrefix("read from") == true)

                let writeError = await #expect(throws: UVError.self) {
                    try await connection.write([UInt8](repeating: 2, count: 64 * 1024 * 1024), timeout: .milliseconds(50))
                }
                #expect(writeError == .timedOut)
                #expect(writeError?.description.hasPrefix("write to") == true)
                await connection.close()
                await listener.close()
            }
        }
    }

    @Test("a canceled task still closes what it closes")
    func closeWhenCanceled() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let state = try loop.run {
                let connection = try await TCPConnection.connect(to: server.address, on: loop)
                let closer = Task(executorPreference: loop.taskExecutor) {
                    withUnsafeCurrentTask { $0?.cancel() }
                    await connection.close()
                    return connection.state
                }
                let state = await closer.value
                await server.listener.close()
                return state
            }
            #expect(state == .closed)
        }
    }

    @Test("withConnection closes the connection when its body throws")
    func scopedClose() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let kept = LoopBound<TCPConnection?>(nil, on: loop)
            try loop.run {
                await #expect(throws: UVError.timedOut) {
                    try await TCPConnection.withConnection(to: server.address, on: loop) { connection in
                        kept.value = connection
                        throw UVError.timedOut
                    }
                }
                await server.listener.close()
            }
            #expect(kept.value?.state == .closed)
        }
    }
}
