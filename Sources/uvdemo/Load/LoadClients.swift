// The load generator's two kinds of client: TCP connections (TLS on them if asked) and UDP sockets,
// each keeping `depth` messages in flight and checking every byte that comes back.
import Glibc
import UVNet
import UVNetTLS

enum TCPLoad {
    /// With `tls`, each connection makes its handshake (verifying the server for `host`) before its
    /// first message.
    static func start(_ run: LoadRun, host: String, port: Int, connections: Int, tls: TLSContext?) {
        for id in 0..<connections {
            TCPConnection.connect(host: host, port: port, on: run.loop) { connected in
                let transport: TCPConnection
                switch connected {
                case .success(let connection): transport = connection
                case .failure(let error): return run.fail("\(error)")
                }
                guard let tls else { return StreamLoadConnection(run: run, connection: transport, id: id).start() }
                TLSConnection.secure(transport, serverName: host, context: tls) { secured in
                    switch secured {
                    case .success(let connection): StreamLoadConnection(run: run, connection: connection, id: id).start()
                    case .failure(let error): run.fail("\(error)")
                    }
                }
            }
        }
    }
}

/// One connection under load. Echoed bytes come back as one stream: message after message, each
/// compared with the pattern window it was sent from.
final class StreamLoadConnection<Connection: ByteStream> {
    private let run: LoadRun
    private let connection: Connection
    private let id: Int
    private var sent = 0
    private var received = 0
    private var receivedOfCurrent = 0
    private var sentAt: [ContinuousClock.Instant] = []

    init(run: LoadRun, connection: Connection, id: Int) {
        self.run = run
        self.connection = connection
        self.id = id
    }

    func start() {
        run.whenDone(stop: {}, end: { [connection] in connection.close() })
        connection.startReading { [self] chunk in
            switch chunk {
            case .success(let bytes): check(bytes)
            case .failure(let error):
                if !run.isStopping || !(error as any Error).isEndOfStream { run.fail("\(error)") }
                connection.close()
            }
        }
        for _ in 0..<run.depth { send() }
    }

    private func send() {
        let offset = run.pattern.offset(of: sent, on: id)
        sentAt.append(run.now)
        sent += 1
        run.pattern.bytes.withUnsafeBytes { all in
            connection.write(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + run.pattern.size)]))
        }
    }

    private func check(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes[...]
        while !rest.isEmpty {
            guard received < sent else { return run.mismatch("more bytes echoed than were sent") }
            let size = run.pattern.size
            let take = min(size - receivedOfCurrent, rest.count)
            let start = run.pattern.offset(of: received, on: id) + receivedOfCurrent
            let matches = run.pattern.matches(UnsafeRawBufferPointer(rebasing: rest.prefix(take)), at: start)
            if !matches {
                run.mismatch("message \(received) on connection \(id) came back changed")
                return connection.close()
            }
            rest = rest.dropFirst(take)
            receivedOfCurrent += take
            if receivedOfCurrent == size {
                run.record(sentAt: sentAt.removeFirst())
                received += 1
                receivedOfCurrent = 0
                if run.isStopping {
                    if received == sent { connection.close() }
                } else {
                    send()
                }
            }
        }
    }
}

enum UDPLoad {
    static func start(_ run: LoadRun, host: String, port: Int, sockets: Int) {
        Resolver.resolve(host: host, service: "\(port)", socketType: .datagram, on: run.loop) { resolved in
            guard case .success(let addresses) = resolved, let server = addresses.first else {
                return run.fail("resolve \(host): \((try? resolved.get()) == nil ? "failed" : "no address")")
            }
            for id in 0..<sockets {
                do {
                    let socket = try UDPSocket(on: run.loop)
                    try socket.connect(to: server)
                    UDPLoadSocket(run: run, socket: socket, id: id).start()
                } catch {
                    run.fail("\(error)")
                }
            }
        }
    }
}

/// One UDP socket under load: each datagram carries its sequence number, so answers are matched to
/// what was sent whatever their order; those missing at the end count as lost.
final class UDPLoadSocket {
    private let run: LoadRun
    private let socket: UDPSocket
    private let id: Int
    private var sent = 0
    private var inFlight: [Int: ContinuousClock.Instant] = [:]
    private var datagram: [UInt8]

    init(run: LoadRun, socket: UDPSocket, id: Int) {
        self.run = run
        self.socket = socket
        self.id = id
        datagram = [UInt8](repeating: 0, count: run.pattern.size)
    }

    func start() {
        run.whenDone(stop: {}, end: { [self] in
            if !inFlight.isEmpty { run.fail("\(inFlight.count) datagrams lost on socket \(id)") }
            socket.close()
        })
        socket.startReceiving { [self] received in
            switch received {
            case .success(let reply): check(reply.bytes)
            case .failure(let error): run.fail("\(error)")
            }
        }
        for _ in 0..<run.depth { send() }
    }

    private func send() {
        let sequence = sent
        sent += 1
        let bodyLength = run.pattern.size - LoadPattern.sequenceLength
        let offset = run.pattern.offset(of: sequence, on: id)
        for index in 0..<LoadPattern.sequenceLength { datagram[index] = UInt8(truncatingIfNeeded: sequence >> (index * 8)) }
        datagram.withUnsafeMutableBytes { out in
            run.pattern.bytes.withUnsafeBytes { all in
                (out.baseAddress! + LoadPattern.sequenceLength).copyMemory(from: all.baseAddress! + offset, byteCount: bodyLength)
            }
        }
        inFlight[sequence] = run.now
        socket.send(datagram) { [self] result in
            if case .failure(let error) = result { run.fail("\(error)") }
        }
    }

    private func check(_ reply: UnsafeRawBufferPointer) {
        guard reply.count == run.pattern.size else { return run.mismatch("a datagram came back \(reply.count) bytes long") }
        let sequence = (0..<LoadPattern.sequenceLength).reduce(0) { $0 | Int(reply[$1]) << ($1 * 8) }
        guard let sentAt = inFlight.removeValue(forKey: sequence) else {
            return run.mismatch("an answer to datagram \(sequence), which is not in flight")
        }
        let offset = run.pattern.offset(of: sequence, on: id)
        guard run.pattern.matches(UnsafeRawBufferPointer(rebasing: reply[LoadPattern.sequenceLength...]), at: offset) else {
            return run.mismatch("datagram \(sequence) on socket \(id) came back changed")
        }
        run.record(sentAt: sentAt)
        if run.isStopping {
            if inFlight.isEmpty { socket.close() }
        } else {
            send()
        }
    }
}
