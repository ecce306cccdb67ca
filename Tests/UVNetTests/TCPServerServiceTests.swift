// A UVNet server in a ServiceGroup (with the ServiceLifecycle trait): SIGTERM stops accepting, and a
// connection in the middle of its exchange still finishes.
#if ServiceLifecycle
import Glibc
import ServiceLifecycle
import Testing
import UVNet
import UVNetTestSupport

@Suite("TCPServerService")
struct TCPServerServiceTests {
    @Test("in a ServiceGroup, SIGTERM stops accepting and lets a connection mid-transfer finish")
    func gracefulShutdown() async throws {
        let address = try SocketAddress(ip: "127.0.0.1", port: try freeLocalPort())
        let service = TCPServerService(address: address, drainTimeout: .seconds(5)) { connection in
            for try await bytes in connection.inbound() { try await connection.write(bytes) }
        }
        let services = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm])
        let clients = try await LoopGroup(loopCount: 1)
        let loop = clients.loops[0]
        // On the clients' loop rather than the global pool, which other tests may hold (see below).
        let running = Task(executorPreference: loop.taskExecutor) { try await services.run() }
        let (echoed, refusedAfter) = try await Task(executorPreference: loop.taskExecutor) {
            var connection: TCPConnection?
            // The service starts its loop threads first: wait for it. The ServiceGroup runs on the global
            // pool, which on a 2-core machine has 2 threads that other tests (synchronous ones, waiting
            // for processes) may hold for seconds: so at most 60 s, not the usual few.
            for _ in 0..<6000 where connection == nil {
                connection = try? await TCPConnection.connect(to: address, on: loop)
                if connection == nil { try await loop.sleep(for: .milliseconds(10)) }
            }
            let client = try #require(connection)
            var input = client.inbound().makeAsyncIterator()
            try await client.write("before ")
            var echoed: [UInt8] = []
            while echoed.count < 7, let chunk = try await input.next() { echoed += chunk }
            kill(getpid(), SIGTERM)  // the ServiceGroup handles it: graceful shutdown
            // The signal travels through a dispatch source and the group: wait (at most 60 s, as above)
            // until new connections are refused; one that still got in is closed at once.
            var refused = false
            for _ in 0..<6000 where !refused {
                if let late = try? await TCPConnection.connect(to: address, on: loop) {
                    await late.close()
                    try await loop.sleep(for: .milliseconds(10))
                } else {
                    refused = true
                }
            }
            try await client.write("after")
            try await client.shutdown()
            while let chunk = try await input.next() { echoed += chunk }
            await client.close()
            return (String(decoding: echoed, as: UTF8.self), refused)
        }.value
        try await running.value
        await clients.shutdown()
        #expect(echoed == "before after")
        #expect(refusedAfter, "no new connection after the shutdown began")
    }
}

/// A port nothing listens on now: the kernel's pick for a socket bound and closed.
private func freeLocalPort() throws -> Int {
    let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(probe) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(probe, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
#endif
