// The echo server with the callback API: bytes lent by each read are written straight back, with
// nothing allocated per message; a client that does not read its echo is paused, not buffered.
import UVNet
import UVNetTLS

/// Echoes on every accepted connection, and keeps them to finish them on shutdown.
final class CallbackEchoService: Sendable {
    /// A client that sends faster than it reads is paused above this many queued bytes.
    static let highWatermark = 1 << 20
    private let behavior: EchoBehavior
    private let console: Console
    private let connections: LoopBound<[ObjectIdentifier: any ByteStream]>

    init(on loop: Loop, behavior: EchoBehavior, console: Console) {
        self.behavior = behavior
        self.console = console
        connections = LoopBound([:], on: loop)
    }

    func accepted<Connection: ByteStream>(_ result: Result<Connection, some Error>) {
        switch result {
        case .success(let connection):
            connections.value[ObjectIdentifier(connection)] = connection
            if behavior.verbose { console.log("connected: \(connection.peerDescription)") }
            if behavior.lines {
                LineEcho.serve(connection, console: console) { [weak self] in self?.forget(connection) }
            } else if let secret = behavior.secret {
                Authentication.challenge(connection, secret: secret, console: console) { [weak self] afterAnswer in
                    connection.write(afterAnswer)
                    self?.echo(on: connection)
                } rejected: { [weak self] in
                    self?.forget(connection)
                }
            } else {
                echo(on: connection)
            }
        case .failure(let error):
            console.error("\(error)")
        }
    }

    private func echo(on connection: some ByteStream) {
        // Strong captures: the service outlives its connections, and a connection drops its handlers
        // when it closes, so no cycle lasts. (A weak capture costs a side-table load on every read.)
        connection.startReading { [self] chunk in
            switch chunk {
            case .success(let bytes):
                guard connection.writeQueueSize + bytes.count > CallbackEchoService.highWatermark else {
                    return connection.write(bytes)
                }
                // The client is not reading its echo: stop reading until what is queued has gone out.
                connection.stopReading()
                connection.write(bytes) { [self] result in
                    if case .success = result, connection.state == .open { echo(on: connection) }
                }
            case .failure(let error):
                // A client that resets (or leaves TLS without close_notify) is its own business: --verbose logs it.
                if (error as? UVError) != .eof && (behavior.verbose || !error.isAbruptDeparture) { console.error("\(error)") }
                finish(connection)
            }
        }
    }

    /// Sends what is queued, half-closes, then closes.
    private func finish(_ connection: some ByteStream) {
        connection.shutdown { _ in connection.close() }
        forget(connection)
    }

    private func forget(_ connection: some ByteStream) {
        if connections.value.removeValue(forKey: ObjectIdentifier(connection)) != nil, behavior.verbose {
            console.log("disconnected: \(connection.peerDescription)")
        }
    }

    /// Finishes every connection (graceful shutdown).
    func finish() {
        for connection in connections.value.values { finish(connection) }
    }
}

extension ByteStream {
    /// Who is at the other end, for logs: an address, or a Unix-domain peer's process.
    var peerDescription: String {
        switch self {
        case let tcp as TCPConnection: (try? tcp.remoteAddress)?.description ?? "?"
        case let unix as UnixConnection: (try? unix.peerCredentials).map { "pid \($0.processID)" } ?? "?"
        case let tls as TLSConnection: tls.transport.peerDescription
        default: peerName ?? "?"
        }
    }
}
