// The TCP echo server again, written with async/await: one task per connection, on the loop's thread.
import UVNet

enum AsyncEchoService {
    /// Listens on `address` and echoes on every connection until SIGINT or SIGTERM, then stops
    /// accepting, lets every connection echo what it already received, and returns.
    static func serve(on loop: Loop, at address: SocketAddress, lines: Bool, secret: String?, verbose: Bool) throws {
        let listener = try TCPListener(on: loop, address: address)
        let open = OpenConnections()
        try GracefulShutdown.onSignals(on: loop, stopAccepting: { listener.close() }, finish: { open.endReadingAll() })
        Output.listening(on: try listener.localAddress)
        try loop.run { await serve(listener, open, lines: lines, secret: secret, verbose: verbose) }
    }

    /// Echoes on every connection `listener` accepts, each in a child task, until it is closed.
    static func serve(
        _ listener: TCPListener, _ open: OpenConnections, lines: Bool, secret: String?, verbose: Bool
    ) async {
        await withDiscardingTaskGroup { group in
            do {
                for try await connection in listener.connections {
                    group.addTask { await echo(on: connection, open, lines: lines, secret: secret, verbose: verbose) }
                }
            } catch {
                Output.error("\(error)")
            }
        }
    }

    private static func echo(
        on connection: TCPConnection, _ open: OpenConnections, lines: Bool, secret: String?, verbose: Bool
    ) async {
        let peer = (try? connection.remoteAddress)?.description ?? "?"
        open.add(connection)
        if verbose { Output.log("connected: \(peer)") }
        do {
            if lines {
                try await LineEcho.serve(connection)
            } else {
                var input = connection.inbound().makeAsyncIterator()
                if let secret {
                    guard let afterAnswer = try await Authentication.challenge(connection, secret: secret, input: &input)
                    else { return open.remove(connection) }
                    try await connection.write(afterAnswer)
                }
                while let chunk = try await input.next() {
                    try await connection.write(chunk)
                }
                try await connection.shutdown()
            }
        } catch let error as UVError where error == .connectionReset && !verbose {
            // A client that resets is that client's business: logged with --verbose only.
        } catch {
            Output.error("\(error)")
        }
        open.remove(connection)
        await connection.close()
        if verbose { Output.log("disconnected: \(peer)") }
    }
}

/// The connections being served, touched only on the loop's thread (every task here runs there).
final class OpenConnections: @unchecked Sendable {
    private var connections: [ObjectIdentifier: TCPConnection] = [:]

    func add(_ connection: TCPConnection) { connections[ObjectIdentifier(connection)] = connection }
    func remove(_ connection: TCPConnection) { connections.removeValue(forKey: ObjectIdentifier(connection)) }

    /// Graceful shutdown: each connection echoes what it already received, then ends.
    func endReadingAll() {
        for connection in connections.values { connection.endReading() }
    }
}
