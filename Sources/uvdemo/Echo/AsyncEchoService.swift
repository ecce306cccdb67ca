// The echo server again, written with async/await: the scoped server runs one task per connection, on
// the loop's thread, and closes each connection however its task ends.
import UVNet
import UVNetTLS

enum AsyncEchoService {
    /// Echoes on every connection `source` hands out until it is closed and every connection has ended.
    static func serve(_ source: some ConnectionSource, _ open: OpenConnections, behavior: EchoBehavior, console: Console) async {
        do {
            try await source.serve(onError: { error, _ in report(error, behavior, console) }) { connection in
                try await serve(connection, open, behavior: behavior, console: console)
            }
        } catch {
            console.error("\(error)")
        }
    }

    private static func serve(
        _ connection: some ByteStream, _ open: OpenConnections, behavior: EchoBehavior, console: Console
    ) async throws {
        let peer = connection.peerDescription
        open.add(connection)
        if behavior.verbose { console.log("connected: \(peer)") }
        defer {
            open.remove(connection)
            if behavior.verbose { console.log("disconnected: \(peer)") }
        }
        try await echo(on: connection, behavior, console)
    }

    private static func echo(on connection: some ByteStream, _ behavior: EchoBehavior, _ console: Console) async throws {
        if behavior.lines { return try await LineEcho.serve(connection) }
        var input = connection.inbound().makeAsyncIterator()
        if let secret = behavior.secret {
            guard let afterAnswer = try await Authentication.challenge(connection, secret: secret, input: &input, console: console)
            else { return }
            try await connection.write(afterAnswer)
        }
        while let chunk = try await input.next() {
            try await connection.write(chunk)
        }
        try await connection.shutdown()
    }

    /// A client that resets (or leaves TLS without close_notify) is its own business: --verbose logs it.
    private static func report(_ error: any Error, _ behavior: EchoBehavior, _ console: Console) {
        if error.isAbruptDeparture && !behavior.verbose { return }
        console.error("\(error)")
    }
}

/// The connections being served on one loop (every task here runs on its thread).
final class OpenConnections: Sendable {
    private let connections: LoopBound<[ObjectIdentifier: any ByteStream]>

    init(on loop: Loop) {
        connections = LoopBound([:], on: loop)
    }

    func add(_ connection: some ByteStream) { connections.value[ObjectIdentifier(connection)] = connection }
    func remove(_ connection: some ByteStream) { connections.value.removeValue(forKey: ObjectIdentifier(connection)) }

    /// Graceful shutdown: each connection echoes what it already received, then ends.
    func endReadingAll() {
        for connection in connections.value.values { connection.endReading() }
    }
}
