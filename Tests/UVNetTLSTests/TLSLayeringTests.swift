// TLS as a layer over any byte stream: over the in-memory pair (truncation, a peer that stalls,
// garbage) and over another TLS connection (a tunnel). What every stream promises (every byte through
// a half-close, close_notify read as the end) is checked on TLS too, in StreamContractTests.
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

    @Test("endReading during the handshake ends the reader at once, and the handshake still completes")
    func endReadingDuringHandshake() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (heard, established) = try loop.run {
                let transports = MemoryStream.pair(on: loop)
                let server = try TLSConnection(over: transports.server, context: certificates.serverContext)
                let heard = LoopBound<String?>(nil, on: loop)
                let done = Awaited<Void>()
                server.handshake { done.complete($0) }
                server.startReading { result in heard.value = if case .failure(let error) = result { "\(error)" } else { "bytes" } }
                server.endReading()
                let heardAtOnce = heard.value
                let client = try await TLSConnection.secure(transports.client, serverName: "localhost", context: certificates.clientContext)
                try await done.value(on: loop)
                let established = server.protocolVersion
                await client.close()
                await server.close()
                return (heardAtOnce, established)
            }
            #expect(heard?.contains("EOF") == true, "\(String(describing: heard))")
            #expect(established == "TLSv1.3")
        }
    }

    @Test("endReading before the handshake ends reading for good: the handshake completes, and a later read hears the end")
    func endReadingBeforeHandshake() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (heard, established) = try loop.run {
                let transports = MemoryStream.pair(on: loop)
                let server = try TLSConnection(over: transports.server, context: certificates.serverContext)
                server.endReading()
                async let accepted: Void = server.handshake()
                let client = try await TLSConnection.secure(transports.client, serverName: "localhost", context: certificates.clientContext)
                try await accepted
                try await client.write("unread")
                let heard = LoopBound<String?>(nil, on: loop)
                server.startReading { result in heard.value = if case .failure(let error) = result { "\(error)" } else { "bytes" } }
                let established = server.protocolVersion
                await client.close()
                await server.close()
                return (heard.value, established)
            }
            #expect(heard?.contains("EOF") == true, "\(String(describing: heard))")
            #expect(established == "TLSv1.3")
        }
    }

    @Test("after a failed handshake, a read and a shutdown report why it failed, as a write does")
    func failureReportedLater() throws {
        let certificates = try TestCertificates()
        var configuration = TLSConfiguration.server(certificateChain: certificates.certificateFile, privateKey: certificates.keyFile)
        configuration.handshakeTimeout = .milliseconds(100)
        let context = try TLSContext(configuration)
        try withLoop { loop in
            let (read, shutdown, write) = try loop.run {
                let transports = MemoryStream.pair(on: loop)
                let server = try TLSConnection(over: transports.server, context: context)
                do { try await server.handshake() } catch {}
                func reason(_ result: Result<some Any, any Error>) -> TLSError.Reason? {
                    if case .failure(let error) = result { return (error as? TLSError)?.reason }
                    return nil
                }
                let heard = LoopBound<[TLSError.Reason?]>([], on: loop)
                server.startReading { heard.value.append(reason($0)) }
                server.shutdown { heard.value.append(reason($0)) }
                server.write(Array("late".utf8)) { heard.value.append(reason($0)) }
                await transports.client.close()
                await server.close()
                return (heard.value[0], heard.value[1], heard.value[2])
            }
            #expect(read == .handshakeTimedOut)
            #expect(shutdown == .handshakeTimedOut)
            #expect(write == .handshakeTimedOut)
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
}
