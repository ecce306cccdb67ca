// A TLS server: a stream listener whose connections are handed over only once their handshake is
// done, with the same callback and scoped-server faces as the listener under it.
@_spi(StreamLayers) import UVNet

/// Serves TLS on a `TCPListener` or `UnixListener` (made without a connection handler).
///
/// ```swift
/// let context = try TLSContext(.server(certificateChain: "cert.pem", privateKey: "key.pem"))
/// let server = TLSListener(try TCPListener(on: loop, address: address), context: context)
/// try await server.serve { connection in
///     for try await bytes in connection.inbound() { try await connection.write(bytes) }
/// }
/// ```
/// A client that sends what is not TLS, offers only old versions, or says nothing for the context's
/// handshake timeout (10 s by default) is refused and its connection closed; the listener goes on.
public final class TLSListener: ConnectionSource {
    /// The listener the connections arrive on (its address, its accept statistics).
    public let listener: StreamListener
    /// The server context each connection's handshake runs with.
    public let context: TLSContext
    private let acceptTransports: @Sendable (@escaping (Result<StreamConnection, UVError>) -> Void) -> Void
    private let serveTransports: @Sendable (@escaping @Sendable (StreamConnection) async throws -> Void) async throws -> Void

    /// TLS on `listener`'s connections, as `context` (a server's) says.
    public init<Listener: ConnectionListener>(_ listener: Listener, context: TLSContext) {
        self.listener = listener
        self.context = context
        acceptTransports = { handler in listener.accept { handler($0.map { $0 }) } }
        serveTransports = { handler in try await listener.serve(handler) }
    }

    public var loop: Loop { listener.loop }

    /// Hands each connection to `handler` once its handshake is done; a failed handshake is handed
    /// over as the error (the connection is closed already), as are accept errors.
    public func accept(_ handler: @escaping (Result<TLSConnection, any Error>) -> Void) {
        let context = context
        acceptTransports { accepted in
            switch accepted {
            case .failure(let error):
                handler(.failure(error))
            case .success(let transport):
                TLSConnection.secure(transport, context: context, handler)
            }
        }
    }

    /// Serves every connection in a child task of its own: the handshake, then `handler`, then close (close_notify
    /// first), however the handler ended. A failed handshake, like an error `handler` throws, ends that connection
    /// only; `onError` hears of it. Closing the listener stops accepting, and `serve` returns once every connection's
    /// task has finished; canceling the task closes everything (see `ConnectionListener.serve(onError:_:)`).
    public func serve(
        onError: (@Sendable (any Error, TLSConnection) -> Void)? = nil,
        _ handler: @escaping @Sendable (TLSConnection) async throws -> Void
    ) async throws {
        let context = context
        try await serveTransports { transport in
            // Each connection's task runs on the loop's thread (serve prefers the loop's executor).
            let connection = try TLSConnection(over: transport, context: context, serverName: nil, label: nil)
            do {
                try await connection.handshake()
                try await handler(connection)
            } catch {
                onError?(error, connection)
            }
            await connection.close()
        }
    }

    /// Closes the listener (see `Handle.close(_:)`); connections already made go on.
    public func close(_ completion: (() -> Void)? = nil) {
        listener.close(completion)
    }
}
