// How long a TLS connection lives: while its transport is open, however that ends.
import Testing
import UVNet
import UVNetTLS
import UVNetTestSupport

@Suite("TLS connection lifetime")
struct TLSLifetimeTests {
    @Test("connections still open when their loop closes are closed with it, and freed")
    func closedWithTheLoop() throws {
        let certificates = try TestCertificates()
        let loop = try Loop()
        let (listener, port) = try certificates.listener(on: loop)
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
            let (listener, port) = try certificates.listener(on: loop)
            let context = try certificates.clientContext
            let received = try loop.run {
                let received = LoopBound<[UInt8]>([], on: loop)
                async let served: Void = listener.serve(onError: nil) { connection in
                    for try await chunk in connection.inbound() { received.value += chunk }
                    await listener.close()
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

@Suite("TLS write watermarks")
struct TLSWriteWatermarkTests {
    @Test("a TLS server streaming 16 MiB to a slow reader is paused and resumed; the queue stays bounded, every byte arrives")
    func slowReader() throws {
        let certificates = try TestCertificates()
        let total = 16 << 20
        let chunk = pattern(count: 64 * 1024, seed: 4)
        let watermarks = WriteWatermarks(low: 128 * 1024, high: 512 * 1024)
        try withLoop { loop in
            let peakQueue = LoopBound(0, on: loop)
            let stops = LoopBound(0, on: loop)
            let (server, port) = try certificates.listener(on: loop)
            server.accept { accepted in
                guard case .success(let connection) = accepted else { return }
                var sent = 0
                var ending = false
                func pump() {
                    while sent < total && connection.isWritable {
                        chunk.withUnsafeBytes { connection.write($0) }
                        sent += chunk.count
                        peakQueue.value = max(peakQueue.value, connection.writeQueueSize)
                    }
                    // Once: the pump runs again on every writability change after its last write.
                    if sent == total && !ending {
                        ending = true
                        connection.shutdown { _ in connection.close() }
                    }
                }
                connection.onWritabilityChange(watermarks: watermarks) { writable in
                    if writable { pump() } else { stops.value += 1 }
                }
                pump()
            }
            let context = try certificates.clientContext
            let (received, intact) = try loop.run {
                let client = try await TLSConnection.connect(host: "localhost", port: port, on: loop, context: context)
                var received = 0
                var intact = true
                for try await bytes in client.inbound(highWatermark: 64 * 1024, lowWatermark: 16 * 1024) {
                    intact = intact && bytes.indices.allSatisfy { bytes[$0] == chunk[(received + $0) % chunk.count] }
                    received += bytes.count
                    if received % (1 << 20) < bytes.count { try await loop.sleep(for: .milliseconds(2)) }  // a slow reader
                }
                await client.close()
                await server.close()
                return (received, intact)
            }
            #expect(received == total)
            #expect(intact)
            #expect(stops.value > 0, "the reader was slow enough to be waited for")
            #expect(peakQueue.value <= watermarks.high + chunk.count + 1024, "peak \(peakQueue.value)")
        }
    }
}

@Suite("TLS shutdown")
struct TLSShutdownTests {
    @Test("a second shutdown while ciphertext is queued ends after the first; the peer reads every byte and close_notify")
    func secondShutdownWaitsForTheFirst() throws {
        let certificates = try TestCertificates()
        let payload = pattern(count: 16 << 20, seed: 6)
        try withLoop { loop in
            let ends = LoopBound<[String]>([], on: loop)
            let (server, port) = try certificates.listener(on: loop)
            server.accept { accepted in
                guard case .success(let connection) = accepted else { return }
                payload.withUnsafeBytes { connection.write($0) }
                connection.shutdown { ends.value.append("first " + ($0.isSuccess ? "ok" : "\($0)")) }
                connection.shutdown {
                    ends.value.append("second " + ($0.isSuccess ? "ok" : "\($0)"))
                    connection.close()
                }
            }
            let context = try certificates.clientContext
            let received = try loop.run {
                let client = try await TLSConnection.connect(host: "localhost", port: port, on: loop, context: context)
                defer { client.close(); server.close() }  // a failure ends the test instead of leaving the loop running
                var received: [UInt8] = []
                for try await chunk in client.inbound(idleTimeout: .seconds(10)) { received += chunk }
                return received
            }
            #expect(received.count == payload.count)
            #expect(received == payload)
            #expect(ends.value == ["first ok", "second ok"])
        }
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
