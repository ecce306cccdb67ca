// Connecting over TLS with async/await, and the handshake as an await: the same lifetimes as a TCP
// connection's (a failure, a timeout or cancellation closes what was opened).
@_spi(StreamLayers) import UVNet

extension TLSConnection {
    /// Runs the handshake (see `handshake(_:)`). Canceling the task closes the connection.
    public func handshake() async throws {
        try await loop.suspend(
            { [self] (wake: Wake<Void>) in handshake { wake.resume($0) } },
            abandon: { [self] in close() })
    }

    /// Connects to `host` over TCP (Happy Eyeballs, within `timeout`), then runs the
    /// handshake, verifying the server's certificate for `host` as `context` says.
    ///
    /// ```swift
    /// let context = try TLSContext(.client())
    /// let connection = try await TLSConnection.connect(host: "example.com", port: 443, on: loop, context: context)
    /// try await connection.write("GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
    /// for try await chunk in connection.inbound() { print(String(decoding: chunk, as: UTF8.self)) }
    /// await connection.close()
    /// ```
    /// Throws the connect's `UVError`, or the handshake's `TLSError` naming `host:port` and the reason
    /// (`certificate has expired`, `host name mismatch (certificate is for …)`, …), or a `UVError`
    /// from the transport during the handshake (a reset, say).
    public static func connect(
        host: String, port: Int, on loop: Loop, context: TLSContext, timeout: Duration? = nil
    ) async throws -> TLSConnection {
        let transport = try await TCPConnection.connect(host: host, port: port, on: loop, timeout: timeout)
        return try await secure(transport, serverName: host, label: "\(host):\(port)", context: context)
    }

    /// Connects as `connect(host:port:on:context:timeout:)` does, with a context made for this
    /// connection alone (the system's trust store by default). Share a `TLSContext` for many connections.
    public static func connect(
        host: String, port: Int, on loop: Loop, configuration: TLSConfiguration = .client(), timeout: Duration? = nil
    ) async throws -> TLSConnection {
        try await connect(host: host, port: port, on: loop, context: TLSContext(configuration), timeout: timeout)
    }

    /// Runs TLS over `transport` (see the callback form) and returns once the handshake is done; a client verifies the
    /// server's certificate for `serverName`, which errors name too. Failure or cancellation closes the transport.
    public static func secure(
        _ transport: some ByteStream, serverName: String? = nil, context: TLSContext
    ) async throws -> TLSConnection {
        try await secure(transport, serverName: serverName, label: nil, context: context)
    }

    /// `label` names the peer in errors (`host:port`).
    static func secure(
        _ transport: any ByteStream, serverName: String?, label: String?, context: TLSContext
    ) async throws -> TLSConnection {
        let attempt = LoopBound<TLSConnection?>(nil, on: transport.loop)
        do {
            return try await transport.loop.suspend(
                { wake in
                    attempt.value = secure(transport, serverName: serverName, label: label, context: context) { wake.resume($0) }
                },
                abandon: { attempt.value?.close() })
        } catch {
            await transport.close()
            throw error
        }
    }

    /// Connects, runs `body` with the connection, and closes it (close_notify first) whichever way `body` ends.
    public static func withConnection<Result: Sendable>(
        host: String, port: Int, on loop: Loop, context: TLSContext, timeout: Duration? = nil,
        _ body: (TLSConnection) async throws -> Result
    ) async throws -> Result {
        try await closing(connect(host: host, port: port, on: loop, context: context, timeout: timeout), body)
    }
}
