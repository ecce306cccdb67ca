// A TLS server against clients that misbehave: silent, speaking garbage, or resetting at random points
// of the handshake and after it. Each is dealt with alone, and nothing is left behind.
import Glibc
import Testing
import UVNet
import UVNetTLS
import UVNetTestSupport

@Suite("TLS against misbehaving clients")
struct TLSMisbehavingPeerTests {
    /// A server context whose handshakes time out after `timeout`.
    private func serverContext(_ certificates: TestCertificates, handshakeTimeout: Duration) throws -> TLSContext {
        var configuration = TLSConfiguration.server(certificateChain: certificates.certificateFile, privateKey: certificates.keyFile)
        configuration.handshakeTimeout = handshakeTimeout
        return try TLSContext(configuration)
    }

    @Test("a client that connects and says nothing is timed out and closed; a garbage-speaking one is refused; the server serves on")
    func silentAndGarbage() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (server, port) = try certificates.listener(
                on: loop, context: try serverContext(certificates, handshakeTimeout: .milliseconds(300)))
            let failures = LoopBound<[TLSError.Reason]>([], on: loop)
            server.accept { accepted in
                switch accepted {
                case .success(let connection):
                    connection.startReading { chunk in
                        guard case .success(let bytes) = chunk else { return connection.close() }
                        connection.write(bytes)
                    }
                case .failure(let error):
                    failures.value.append((error as? TLSError)?.reason ?? .internalError)
                }
            }
            let (silentEnd, garbageEnd, echoed) = try loop.run {
                let clock = ContinuousClock()
                let started = clock.now
                let silent = try await TCPConnection.connect(host: "127.0.0.1", port: port, on: loop)
                var silentEnd: String = "open"
                do {
                    for try await _ in silent.inbound() {}
                    silentEnd = "eof"
                } catch {
                    silentEnd = "\(error)"
                }
                let waited = clock.now - started
                #expect(waited >= .milliseconds(250) && waited < .seconds(5), "closed after \(waited)")
                await silent.close()

                let garbage = try await TCPConnection.connect(host: "127.0.0.1", port: port, on: loop)
                try await garbage.write(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + pattern(count: 4000))
                var garbageEnd = "open"
                do {
                    for try await _ in garbage.inbound() {}
                    garbageEnd = "eof"
                } catch {
                    garbageEnd = (error as? UVError) == .connectionReset ? "reset" : "\(error)"
                }
                await garbage.close()

                let echoed = try await TLSConnection.withConnection(
                    host: "localhost", port: port, on: loop, context: certificates.clientContext
                ) { connection in
                    try await connection.write("still serving")
                    var echoed: [UInt8] = []
                    for try await chunk in connection.inbound() {
                        echoed += chunk
                        if echoed.count == 13 { break }
                    }
                    return String(decoding: echoed, as: UTF8.self)
                }
                await server.close()
                return (silentEnd, garbageEnd, echoed)
            }
            #expect(silentEnd == "eof")
            #expect(garbageEnd == "eof" || garbageEnd == "reset", "\(garbageEnd)")
            #expect(failures.value == [.handshakeTimedOut, .protocolError])
            #expect(echoed == "still serving")
        }
    }

    /// 1000 connections, each cut off at a random point: before its ClientHello, after it, after the
    /// handshake, after a message, or (the control) closed properly with close_notify after its echo.
    /// Resets are RSTs (SO_LINGER 0). Prints how many ended at each point.
    static let resettingClients = """
        import random, socket, ssl, struct, sys
        port, cafile = int(sys.argv[1]), sys.argv[2]
        context = ssl.create_default_context(cafile=cafile)
        random.seed(14)
        ends = [0] * 5
        def reset(s):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        for n in range(1000):
            s = socket.create_connection(("127.0.0.1", port))
            point = random.randrange(5)
            ends[point] += 1
            if point == 0:
                reset(s); continue
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
            def step():
                try:
                    tls.do_handshake(); done = True
                except ssl.SSLWantReadError:
                    done = False
                s.sendall(outgoing.read())
                return done
            step()
            if point == 1:
                reset(s); continue
            while not step():
                incoming.write(s.recv(65536))
            if point == 2:
                reset(s); continue
            tls.write(b"m" * 100); s.sendall(outgoing.read())
            if point == 3:
                reset(s); continue
            got = b""
            while len(got) < 100:
                incoming.write(s.recv(65536))
                try:
                    got += tls.read(65536)
                except ssl.SSLWantReadError:
                    pass
            try:
                tls.unwrap()
            except ssl.SSLWantReadError:
                pass
            s.sendall(outgoing.read()); s.close()
        print(" ".join(map(str, ends)), flush=True)
        """

    @Test("1000 handshakes cut off by resets at random points leave no descriptor, handle or connection behind")
    func randomResets() throws {
        let certificates = try TestCertificates()
        try withLoop { loop in
            let (server, port) = try certificates.listener(
                on: loop, context: try serverContext(certificates, handshakeTimeout: .seconds(5)))
            let handlesWhileListening = loop.openHandleCount
            let tally = LoopBound((handshaken: 0, failed: 0, closed: 0), on: loop)
            let connections = LoopBound<[WeakConnection]>([], on: loop)
            server.accept { accepted in
                guard case .success(let connection) = accepted else { return tally.value.failed += 1 }
                tally.value.handshaken += 1
                connections.value.append(WeakConnection(connection))
                connection.startReading { chunk in
                    guard case .success(let bytes) = chunk else {
                        tally.value.closed += 1
                        return connection.close()
                    }
                    connection.write(bytes)
                }
            }
            let (ends, exit) = try loop.run {
                let child = try ChildProcess(
                    on: loop, executable: "python3", arguments: ["-c", Self.resettingClients, "\(port)", certificates.caFile],
                    descriptors: [.ignore, .pipe, .inherit])
                var output: [UInt8] = []
                for try await chunk in child.standardOutput!.inbound() { output += chunk }
                await child.standardOutput!.close()
                let exit = try await child.termination()
                // Every connection was accepted; wait (at most 10 s) until the server has seen each end.
                for _ in 0..<1000 where tally.value.failed + tally.value.closed < 1000 {
                    try await loop.sleep(for: .milliseconds(10))
                }
                return (String(decoding: output, as: UTF8.self), exit)
            }
            #expect(exit == .exited(0))
            let counts = ends.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
            #expect(counts.count == 5 && counts.reduce(0, +) == 1000, "\(ends)")
            #expect(counts.allSatisfy { $0 > 100 }, "every point is tried: \(ends)")
            #expect(tally.value.failed + tally.value.handshaken == 1000, "\(tally.value)")
            #expect(tally.value.closed == tally.value.handshaken, "\(tally.value)")
            #expect(loop.openHandleCount == handlesWhileListening)
            #expect(connections.value.allSatisfy { $0.connection == nil }, "a closed TLS connection is freed")
            #expect(try openConnections(toLocalPort: port) == 0, "a socket left open shows as ESTABLISHED or CLOSE_WAIT")
            server.close()
        }
    }
}

private struct WeakConnection {
    weak var connection: TLSConnection?

    init(_ connection: TLSConnection) {
        self.connection = connection
    }
}

/// How many IPv4 TCP sockets with local port `port` are still ESTABLISHED or CLOSE_WAIT: those whose
/// descriptor somebody still holds (a closed one is the kernel's, in FIN_WAIT or TIME_WAIT).
private func openConnections(toLocalPort port: Int) throws -> Int {
    guard let file = fopen("/proc/net/tcp", "r") else { throw UVError(-errno, operation: "open", target: "/proc/net/tcp") }
    defer { fclose(file) }
    var count = 0
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0, let line {
        // "  sl  local_address rem_address   st …": 0: 0100007F:1F90 0100007F:C350 01 …
        let fields = String(cString: line).split(separator: " ")
        guard fields.count > 3, let local = fields[1].split(separator: ":").last, Int(local, radix: 16) == port else { continue }
        if fields[3] == "01" || fields[3] == "08" { count += 1 }
    }
    return count
}
