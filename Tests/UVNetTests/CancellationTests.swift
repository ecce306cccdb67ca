// Cancellation and timeouts never lose bytes, and never leave an attempt behind.
import Testing
import UVNet
import UVNetTestSupport

@Suite("Cancellation")
struct CancellationTests {
    /// When a write's task is canceled.
    enum CancelMoment: String, CaseIterable, CustomStringConvertible {
        /// While the write waits for the kernel (the server reads nothing yet, so it backs up).
        case whileWaiting
        /// Before the write began: the kernel takes part at once, and the rest must still be queued.
        case beforeItBegins
        var description: String { rawValue }
    }

    @Test("a canceled write ends with CancellationError; every byte it began to send arrives, no reset",
          arguments: CancelMoment.allCases)
    func canceledWriteKeepsBytes(canceled: CancelMoment) throws {
        let payload = pattern(count: 32 * 1024 * 1024, seed: 3)
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (writeOutcome, received) = try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                let writing = Task(executorPreference: loop.taskExecutor) {
                    if canceled == .beforeItBegins { withUnsafeCurrentTask { $0?.cancel() } }
                    try await client.write(payload)
                }
                if canceled == .whileWaiting {
                    try await loop.sleep(for: .milliseconds(20))
                    writing.cancel()
                }
                let writeOutcome = await writing.result
                // Bytes lost on the way would leave the reader waiting: after 20 s both ends close.
                let watchdog = Task(executorPreference: loop.taskExecutor) {
                    try await loop.sleep(for: .seconds(20))
                    await client.close()
                    await server.close()
                }
                defer { watchdog.cancel() }
                async let received = readAll(server)
                try? await client.shutdown()
                let bytes = try await received
                for handle in [client, server] as [Handle] + [listener] { await handle.close() }
                return (writeOutcome, bytes)
            }
            #expect(throws: CancellationError.self) { try writeOutcome.get() }
            // Compared as a Bool: a failing == on 32 MiB arrays would be described element by element.
            let arrivedWhole = received == payload
            #expect(received.count == payload.count)
            #expect(arrivedWhole)
        }
    }

    @Test("a connect by host name that times out closes its attempt at once")
    func hostConnectTimeoutClosesAttempts() throws {
        try withLoop { loop in
            // A listener that accepts nothing, with its queue filled: further SYNs are dropped.
            let full = try TCPListener(on: loop, address: anyLocalPort, backlog: 1)
            let port = try full.localAddress.port
            let (error, openAfter, fillers) = try loop.run {
                var fillers: [TCPConnection] = []
                for _ in 0..<4 {
                    if let filler = try? await TCPConnection.connect(
                        to: full.localAddress, on: loop, timeout: .milliseconds(200))
                    {
                        fillers.append(filler)
                    }
                }
                let openBefore = loop.openHandleCount
                let error = await #expect(throws: UVError.self) {
                    _ = try await TCPConnection.connect(host: "127.0.0.1", port: port, on: loop, timeout: .milliseconds(200))
                }
                let openAfter = loop.openHandleCount - openBefore
                for filler in fillers { await filler.close() }
                await full.close()
                return (error, openAfter, fillers.count)
            }
            #expect(fillers >= 1)
            #expect(error == .timedOut)
            #expect(openAfter == 0, "the timed-out attempt is still open")
        }
    }
}
