// What loop tests share: the ending of every one, as in libuv's own suite (close every handle, then
// insist that the loop closes cleanly: uv_loop_close == 0, nothing leaked), and the small peers and
// patterns they are written with.
import UVNet

/// Runs `body` with a fresh loop, then closes what is left and checks the loop closed with nothing
/// pending: a loop that cannot close (a handle or request left behind) throws, failing the test.
@discardableResult
public func withLoop<Result>(_ body: (Loop) throws -> Result) throws -> Result {
    let loop = try Loop()
    let result: Result
    do {
        result = try body(loop)
    } catch {
        try? loop.close()
        throw error
    }
    try loop.close()
    return result
}

/// 127.0.0.1 with port 0: the kernel picks a free port.
public var anyLocalPort: SocketAddress {
    get throws { try SocketAddress(ip: "127.0.0.1", port: 0) }
}

/// A recognisable byte pattern: a corrupted, dropped or reordered byte shows up in a comparison.
public func pattern(count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31 &+ seed &* 7) ^ ($0 >> 8)) }
}

/// Both ends of one connection through `listener`: a client connected to it, and the server side it accepted.
public func connectedPair(through listener: TCPListener, on loop: Loop) async throws -> (client: TCPConnection, server: TCPConnection) {
    let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
    var connections = listener.connections.makeAsyncIterator()
    guard let server = try await connections.next() else { throw UVError.canceled }
    return (client, server)
}

/// Both ends of one Unix-domain connection through `listener`.
public func connectedPair(through listener: UnixListener, on loop: Loop) async throws -> (client: UnixConnection, server: UnixConnection) {
    let client = try await UnixConnection.connect(to: listener.path, on: loop)
    var connections = listener.connections.makeAsyncIterator()
    guard let server = try await connections.next() else { throw UVError.canceled }
    return (client, server)
}

/// Everything `connection` receives until the peer's EOF.
public func readAll(_ connection: StreamConnection) async throws -> [UInt8] {
    var received: [UInt8] = []
    for try await chunk in connection.inbound() { received += chunk }
    return received
}

/// Every frame of `connection` as text, until the stream ends, and the error it ended with, if any.
public func readLines(_ connection: StreamConnection, _ framer: some Framer) async -> (lines: [String], error: UVError?) {
    var lines: [String] = []
    do {
        for try await line in connection.inbound().frames(framer) { lines.append(String(decoding: line, as: UTF8.self)) }
        return (lines, nil)
    } catch {
        return (lines, error as? UVError)
    }
}

/// A callback echo server on 127.0.0.1 port 0, as a user would write one.
public final class EchoServerFixture: Sendable {
    public let listener: TCPListener
    public let address: SocketAddress
    private let acceptedConnections: LoopBound<[TCPConnection]>
    private let errors: LoopBound<[UVError]>

    public var accepted: [TCPConnection] { acceptedConnections.value }
    public var acceptErrors: [UVError] { errors.value }

    public init(on loop: Loop) throws {
        let acceptedConnections = LoopBound<[TCPConnection]>([], on: loop)
        let errors = LoopBound<[UVError]>([], on: loop)
        self.acceptedConnections = acceptedConnections
        self.errors = errors
        listener = try TCPListener(on: loop, address: anyLocalPort) { result in
            switch result {
            case .success(let connection):
                acceptedConnections.value.append(connection)
                connection.startReading { chunk in
                    switch chunk {
                    case .success(let bytes): connection.write(bytes)
                    case .failure: connection.shutdown { _ in connection.close() }
                    }
                }
            case .failure(let error):
                errors.value.append(error)
            }
        }
        address = try listener.localAddress
    }
}

/// A client that connects, sends `payload`, half-closes and collects everything until EOF.
public final class CollectingClient {
    public let connection: TCPConnection
    public private(set) var received: [UInt8] = []
    public private(set) var ended: Result<Void, UVError>?

    public init(
        on loop: Loop, to address: SocketAddress, sending payload: [UInt8],
        then: @escaping (CollectingClient) -> Void = { _ in }
    ) throws {
        connection = try TCPConnection(on: loop)
        try connection.connect(to: address) { [unowned self] result in
            if case .failure(let error) = result {
                ended = .failure(error)
                return connection.close { then(self) }
            }
            connection.startReading { [unowned self] chunk in
                switch chunk {
                case .success(let bytes):
                    received.append(contentsOf: bytes)
                case .failure(let error):
                    ended = error == .eof ? .success(()) : .failure(error)
                    connection.close { then(self) }
                }
            }
            connection.write(payload)
            connection.shutdown()
        }
    }

    public var endedCleanly: Bool {
        if case .success = ended { return true }
        return false
    }
}
