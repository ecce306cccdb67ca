// TLS as a layer over any byte stream: over the in-memory pair (handshake, close_notify, truncation, a
// peer that stalls, garbage), over another TLS connection (a tunnel), and over a Unix-domain socket.
import Glibc
import Testing
import UVNet
import UVNetTLS
import UVNetTestSupport

@Suite("TLS over any byte stream")
struct TLSLayeringTests {
    /// A client and a server TLS connection over `transports`, handshaking; both done when this returns.
    private func secured(
        _ transports: (client: some ByteStream, server: some ByteStream), _ certificates: TestCertificates
    ) async throws -> (client: TLSConnection, server: TLSConnection) {
        async let server = TLSConnection.secure(transports.server, context: certificates.serverContext)
        let client = try await TLSConnection.secure(transports.client, serverName: "localhost", context: certificates.clientContext)
        return (client, try await server)
    }

    @Test("over the in-memory pair: the handshake, 1 MiB each way through a 4 KiB buffer, then close_notify ends the other's reading cleanly")
    func handshakeEchoAndCloseNotify() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (received, serverEnded, protocolVersion) = try loop.run {
                let (client, server) = try await secured(MemoryStream.pair(on: loop, capacity: 4096), certificates)
                let sent = pattern(count: 1 << 20, seed: 3)
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
                var serverEnded = "clean"
                do { try await echoed } catch { serverEnded = "\(error)" }
                let version = client.protocolVersion
                await client.close()
                await server.close()
                return (received == sent, serverEnded, version)
            }
            #expect(received)
            #expect(serverEnded == "clean")
            #expect(protocolVersion == "TLSv1.3")
        }
    }

    @Test("a transport that ends without close_notify is a truncation, never an end")
    func truncation() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let reason = try loop.run {
                let transports = MemoryStream.pair(on: loop)
                let (client, server) = try await secured(transports, certificates)
                try await client.write("half a reply")
                transports.client.close(nil)  // under TLS: no close_notify
                var reason: TLSError.Reason?
                do {
                    for try await _ in server.inbound() {}
                } catch let error as TLSError {
                    reason = error.reason
                }
                await client.close()
                await server.close()
                return reason
            }
            #expect(reason == .truncated)
        }
    }

    @Test("a peer that stalls mid-handshake is timed out; one that sends garbage is refused; both transports closed")
    func stallAndGarbage() throws {
        let certificates = try TestCertificates()
        var configuration = TLSConfiguration.server(certificateChain: certificates.certificateFile, privateKey: certificates.keyFile)
        configuration.handshakeTimeout = .milliseconds(200)
        let context = try TLSContext(configuration)
        try withLoop { loop in
            let (stalled, garbage, closed) = try loop.run {
                func handshake(_ transport: MemoryStream) async -> TLSError.Reason? {
                    do {
                        _ = try await TLSConnection.secure(transport, context: context)
                        return nil
                    } catch {
                        return (error as? TLSError)?.reason
                    }
                }
                let silent = MemoryStream.pair(on: loop)
                let stalled = await handshake(silent.server)
                let speaking = MemoryStream.pair(on: loop)
                speaking.client.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + pattern(count: 2000), completion: nil)
                let garbage = await handshake(speaking.server)
                let closed = (silent.server.state, speaking.server.state)
                await silent.client.close()
                await speaking.client.close()
                return (stalled, garbage, closed)
            }
            #expect(stalled == .handshakeTimedOut)
            #expect(garbage == .protocolError || garbage == .handshakeFailed, "\(String(describing: garbage))")
            #expect(closed.0 != .open && closed.1 != .open)
        }
    }

    @Test("TLS inside TLS: a tunnel through a TLS connection carries a second handshake and its bytes, and closes with it")
    func tunnel() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (echoed, innerVersion, innerEndedWithOuter) = try loop.run {
                let outer = try await secured(MemoryStream.pair(on: loop), certificates)
                let inner = try await secured(outer, certificates)
                let sent = pattern(count: 100_000, seed: 9)
                async let served: Void = {
                    for try await chunk in inner.server.inbound() { try await inner.server.write(chunk) }
                }()
                try await inner.client.write(sent)
                var received: [UInt8] = []
                var chunks = inner.client.inbound().makeAsyncIterator()
                while received.count < sent.count, let chunk = try await chunks.next() { received += chunk }
                let version = inner.client.protocolVersion
                await outer.client.close()
                try? await served
                let innerState = inner.client.state
                await inner.server.close()
                await outer.server.close()
                return (received == sent, version, innerState == .closed)
            }
            #expect(echoed)
            #expect(innerVersion == "TLSv1.3")
            #expect(innerEndedWithOuter)
        }
    }

    @Test("over a Unix-domain socket: a TLS listener serves, and a shutdown is read as a clean end")
    func overUnixSocket() throws {
        let certificates = try TestCertificates()
        let path = certificates.directory + "/tls.sock"
        try withLoop { loop in
            let (echoed, ended) = try loop.run {
                let server = TLSListener(try UnixListener(on: loop, path: path), context: try certificates.serverContext)
                async let serving: Void = server.serve { connection in
                    for try await chunk in connection.inbound() { try await connection.write(chunk) }
                    try await connection.shutdown()
                }
                let transport = try await UnixConnection.connect(to: path, on: loop)
                let client = try await TLSConnection.secure(transport, serverName: "localhost", context: certificates.clientContext)
                let sent = pattern(count: 300_000, seed: 5)
                try await client.write(sent)
                try await client.shutdown()
                var received: [UInt8] = []
                var ended = "clean"
                do {
                    for try await chunk in client.inbound() { received += chunk }
                } catch {
                    ended = "\(error)"
                }
                await client.close()
                await server.close()
                try await serving
                return (received == sent, ended)
            }
            #expect(echoed)
            #expect(ended == "clean")
        }
    }
}
