// Awaiting a signal: the one that came is returned, and the watch ends with the wait.
import Glibc
import Testing
import UVNet
import UVNetTestSupport

@Suite("Signal.next", .serialized)
struct SignalWaitTests {
    @Test("returns the signal that arrived, and stops watching")
    func arrival() throws {
        try withLoop { loop in
            let before = loop.openHandleCount
            let arrived = try loop.run {
                async let arrival = Signal.next(of: [.user1, .user2], on: loop)
                try await loop.sleep(for: .milliseconds(20))  // the watch is on: the child ran while this slept
                kill(getpid(), SIGUSR2)
                return try await arrival
            }
            #expect(arrived == .user2)
            #expect(loop.openHandleCount == before, "the watch ended with the wait")
        }
    }

    @Test("a canceled wait throws CancellationError and stops watching")
    func cancellation() throws {
        try withLoop { loop in
            let before = loop.openHandleCount
            let outcome = try loop.run {
                let waiting = Task(executorPreference: loop.taskExecutor) { try await Signal.next(of: [.user1], on: loop) }
                try await loop.sleep(for: .milliseconds(20))
                waiting.cancel()
                do {
                    _ = try await waiting.value
                    return "returned"
                } catch {
                    return error is CancellationError ? "canceled" : "\(error)"
                }
            }
            #expect(outcome == "canceled")
            #expect(loop.openHandleCount == before)
        }
    }

    @Test("the README's graceful shutdown: a signal closes the listener, and an open connection still finishes")
    func gracefulShutdown() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let address = try listener.localAddress
            let echoed = try loop.run {
                async let serving: Void = listener.serve { connection in
                    for try await bytes in connection.inbound() { try await connection.write(bytes) }
                }
                let client = try await TCPConnection.connect(to: address, on: loop)
                try await client.write("before")
                async let stop = Signal.next(of: [.user1], on: loop)
                try await loop.sleep(for: .milliseconds(20))
                kill(getpid(), SIGUSR1)
                _ = try await stop
                await listener.close()            // stop accepting; the open connection goes on
                try await client.write(" and after")
                try await client.shutdown()
                var echoed: [UInt8] = []
                for try await chunk in client.inbound() { echoed += chunk }
                try await serving                 // returns once that connection has ended
                await client.close()
                return String(decoding: echoed, as: UTF8.self)
            }
            #expect(echoed == "before and after")
        }
    }
}
