// The TCP echo server again, written with async/await: one task per connection, on the loop's thread.
import UVNet

enum AsyncEchoService {
    /// Listens on `address` and echoes on every connection until SIGINT or SIGTERM, then stops
    /// accepting, lets every connection echo what it already received, and returns.
    static func serve(on loop: Loop, at address: SocketAddress, lines: Bool, secret: String?, verbose: Bool) throws {
        let listener = try TCPListener(on: loop, address: address)
        let open = OpenConnections(on: loop)
        try GracefulShutdown.onSignals(on: loop, stopAccepting: { listener.close() }, finish: { open.endReadingAll() })
        Output.listening(on: try listener.localAddress)
        try loop.run { await serve(listener, open, lines: lines, secret: secret, verbose: verbose) }
    }

    /// Echoes on every connection `listener` accepts, each in a task of its own that closes it after,
    /// until the listener is closed and every connection has ended.
    static func serve(
        _ listener: TCPListener, _ open: OpenConnections, lines: Bool, secret: String?, verbose: Bool
    ) async {
        do {
            try await listener.serve(onError: { error, _ in report(error, verbose: verbose) }) { connection in
                let peer = (try? connection.remoteAddress)?.description ?? "?"
                open.add(connection)
                if verbose { Output.log("connected: \(peer)") }
                defer {
                    open.remove(connection)
                    if verbose { Output.log("disconnected: \(peer)") }
                }
                try await echo(on: connection, lines: lines, secret: secret)
            }
        } catch {
            Output.error("\(error)")
        }
    }

    private static func echo(on connection: TCPConnection, lines: Bool, secret: String?) async throws {
        if lines { return try await LineEcho.serve(connection) }
        var input = connection.inbound().makeAsyncIterator()
        if let secret {
            guard let afterAnswer = try await Authentication.challenge(connection, secret: secret, input: &input)
            else { return }
            try await connection.write(afterAnswer)
        }
        while let chunk = try await input.next() {
            try await connection.write(chunk)
        }
        try await connection.shutdown()
    }

    /// A client that resets is that client's business: logged with --verbose only.
    private static func report(_ error: any Error, verbose: Bool) {
        if let error = error as? UVError, error == .connectionReset, !verbose { return }
        Output.error("\(error)")
    }
}

/// The connections being served on one loop (every task here runs on its thread).
final class OpenConnections: Sendable {
    private let connections: LoopBound<[ObjectIdentifier: TCPConnection]>

    init(on loop: Loop) {
        connections = LoopBound([:], on: loop)
    }

    func add(_ connection: TCPConnection) { connections.value[ObjectIdentifier(connection)] = connection }
    func remove(_ connection: TCPConnection) { connections.value.removeValue(forKey: ObjectIdentifier(connection)) }

    /// Graceful shutdown: each connection echoes what it already received, then ends.
    func endReadingAll() {
        for connection in connections.value.values { connection.endReading() }
    }
}
