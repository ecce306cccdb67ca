// How long a TLS connection lives: while its transport is open, however that ends.
import Testing
import UVNet
import UVNetTLS

@Suite("TLS connection lifetime")
struct TLSLifetimeTests {
    @Test("connections still open when their loop closes are closed with it, and freed")
    func closedWithTheLoop() throws {
        let certificates = try TestCertificates()
        let loop = try Loop()
        let listener = TLSListener(try TCPListener(on: loop, address: anyLocalPort), context: try certificates.serverContext)
        let port = try (listener.listener as! TCPListener).localAddress.port
        let connections = LoopBound<[Weak]>([], on: loop)
        listener.accept { accepted in
            if case .success(let connection) = accepted { connections.value.append(Weak(connection)) }
        }
        let context = try certificates.clientContext
        try loop.run {
            let client = try await TLSConnection.connect(host: "localhost", port: port, on: loop, context: context)
            connections.value.append(Weak(client))
            while connections.value.count < 2 { try await loop.sleep(for: .milliseconds(1)) }
            // Neither end is closed: the loop's close must end both.
        }
        #expect(connections.value.allSatisfy { $0.connection != nil }, "open connections live on without an owner")
        try loop.close()
        #expect(connections.value.count == 2)
        #expect(connections.value.allSatisfy { $0.connection == nil }, "a connection whose transport closed is freed")
    }
}

private struct Weak {
    weak var connection: TLSConnection?

    init(_ connection: TLSConnection) {
        self.connection = connection
    }
}
