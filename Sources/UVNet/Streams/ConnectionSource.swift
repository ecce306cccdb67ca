// What a server takes its connections from, whatever carries them: a listener, or a layer over one.

/// Anything a server takes connections from: a `ConnectionListener` (`TCPListener`, `UnixListener`) or a layer over
/// one (UVNetTLS's `TLSListener`, whose connections come after their handshake), so one function serves them all:
///
/// ```swift
/// func echo(_ source: some ConnectionSource) async throws {
///     try await source.serve(onError: nil) { connection in
///         for try await bytes in connection.inbound() { try await connection.write(bytes) }
///     }
/// }
/// ```
/// Its `loop`'s thread serves the connections; `close(_:)` stops accepting, and connections already made go on.
public protocol ConnectionSource: LoopClosable {
    /// The kind of connection served.
    associatedtype Connection: ByteStream

    /// Serves every connection in a child task of its own that runs `handler`, then closes the
    /// connection, until the source is closed; see `ConnectionListener.serve(onError:_:)`.
    func serve(
        onError: (@Sendable (any Error, Connection) -> Void)?, _ handler: @escaping @Sendable (Connection) async throws -> Void
    ) async throws
}
