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

@Suite("TLS connection rules")
struct TLSConnectionRuleTests {
    @Test("a client that verifies needs the server's name: without one it is refused before anything is sent")
    func clientNeedsTheServersName() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let transport = try TCPConnection(on: loop)
            #expect {
                try TLSConnection(over: transport, context: certificates.clientContext)
            } throws: { error in
                (error as? TLSError)?.reason == .configuration && "\(error)".contains("needs the server's name")
            }
            let insecure = try TLSContext(.client(verification: .insecureNoVerification))
            #expect(throws: Never.self) { try TLSConnection(over: transport, context: insecure).close() }
        }
    }

    @Test("writes made during the handshake go out in order, before what their completions write")
    func writesDuringTheHandshake() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let listener = TLSListener(try TCPListener(on: loop, address: anyLocalPort), context: try certificates.serverContext)
            let port = try (listener.listener as! TCPListener).localAddress.port
            let context = try certificates.clientContext
            let received = try loop.run {
                let received = LoopBound<[UInt8]>([], on: loop)
                async let served: Void = listener.serve(onError: nil) { connection in
                    for try await chunk in connection.inbound() { received.value += chunk }
                    listener.close()
                }
                let transport = try await TCPConnection.connect(host: "127.0.0.1", port: port, on: loop)
                let client = try TLSConnection(over: transport, context: context, serverName: "localhost")
                client.write("one ") { _ in
                    client.write("three") { _ in client.shutdown { _ in } }
                }
                client.write("two ", completion: nil)
                client.handshake { _ in }
                try await served
                await client.close()
                return received.value
            }
            #expect(String(decoding: received, as: UTF8.self) == "one two three")
        }
    }
}
