// Nagle's algorithm is off on every TCP connection from the start, connected or accepted, and
// setNoDelay(false) turns it back on: read back from the socket itself.
@testable import UVNet
import Glibc
import Testing
import UVNetTestSupport

@Suite("TCP_NODELAY")
struct NoDelayTests {
    /// The socket's TCP_NODELAY as the kernel reports it.
    private func noDelay(_ connection: TCPConnection) throws -> Bool {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        #expect(getsockopt(try connection.descriptor("read TCP_NODELAY"), CInt(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0)
        return value != 0
    }

    @Test("connected and accepted connections start with Nagle off; setNoDelay(false) turns it on")
    func offByDefault() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (client, server) = try loop.run { try await connectedPair(through: listener, on: loop) }
            #expect(try noDelay(client))
            #expect(try noDelay(server))
            try client.setNoDelay(false)
            #expect(try !noDelay(client))
            client.close()
            server.close()
            listener.close()
        }
    }
}
