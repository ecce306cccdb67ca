// UVNetTLS against itself: the handshake, echo both ways through both faces, close_notify.
import Testing
import UVNet
import UVNetTLS
import UVNetTestSupport

/// A TLS echo server with the scoped server, as the README shows.
private func serveEcho(_ server: TLSListener) async throws {
    try await server.serve { connection in
        for try await chunk in connection.inbound() { try await connection.write(chunk) }
        try await connection.shutdown()
    }
}

@Suite("TLS echo")
struct TLSEchoTests {
    @Test("an async client verifies the server's certificate and gets 1 MiB echoed back byte for byte")
    func asyncEcho() throws {
        let certificates = try TestCertificates()
        let payload = pattern(count: 1 << 20, seed: 3)
        try withLoop { loop in
            let (server, port) = try certificates.listener(on: loop)
            let client = try certificates.clientContext
            let (echoed, version) = try loop.run {
                async let serving: Void = serveEcho(server)
                let result = try await TLSConnection.withConnection(host: "localhost", port: port, on: loop, context: client) { connection in
                    async let sent: Void = {
                        try await connection.write(payload)
                        try await connection.shutdown()
                    }()
                    var echoed: [UInt8] = []
                    for try await chunk in connection.inbound() { echoed += chunk }
                    try await sent
                    return (echoed, connection.protocolVersion)
                }
                await server.close()
                try await serving
                return result
            }
            #expect(echoed.count == payload.count)
            #expect(echoed == payload)
            #expect(version == "TLSv1.3")
        }
    }
}
