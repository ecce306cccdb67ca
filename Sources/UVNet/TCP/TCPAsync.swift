// Connecting TCP with async/await: to an address, to a host name, or for the length of a closure.
import CUV

extension TCPConnection {
    /// Connects to `address`. Throws the connect error naming the address, `.timedOut` after `timeout`,
    /// or `CancellationError` if the task is canceled first (the attempt is closed at once either way).
    public static func connect(
        to address: SocketAddress, on loop: Loop, timeout: Duration? = nil
    ) async throws -> TCPConnection {
        try await connecting(on: loop, timeout: timeout, target: "\(address)") { () throws(UVError) in
            let connection = try TCPConnection(on: loop)
            return (connection, { (completion) throws(UVError) in try connection.connect(to: address, completion) })
        }
    }

    /// Connects to `host` with Happy Eyeballs (see the callback form). `timeout` bounds it all; a timeout or
    /// cancellation stops the lookups and every attempt in flight at once.
    public static func connect(
        host: String, port: Int, on loop: Loop, timeout: Duration? = nil,
        attemptDelay: Duration = ConnectAttempt.defaultAttemptDelay
    ) async throws -> TCPConnection {
        let attempt = LoopBound<ConnectAttempt?>(nil, on: loop)
        return try await loop.suspend(
            timeout: timeout.map { Timeout($0, operation: "connect to", target: { "\(host):\(port)" }, detail: "no answer within \($0)") },
            { wake in
                attempt.value = connect(host: host, port: port, on: loop, attemptDelay: attemptDelay) { wake.resume($0.mapError { $0 }) }
            },
            abandon: { attempt.value?.cancel() })
    }

    /// Connects, runs `body` with the connection, and closes it whichever way `body` ends: no handle can leak.
    ///
    /// ```swift
    /// let reply = try await TCPConnection.withConnection(to: address, on: loop) { connection in
    ///     try await connection.write("hello\n")
    ///     try await connection.shutdown()
    ///     var reply: [UInt8] = []
    ///     for try await chunk in connection.inbound() { reply += chunk }
    ///     return reply
    /// }
    /// ```
    public static func withConnection<Result: Sendable>(
        to address: SocketAddress, on loop: Loop, timeout: Duration? = nil,
        _ body: (TCPConnection) async throws -> Result
    ) async throws -> Result {
        try await closing(connect(to: address, on: loop, timeout: timeout), body)
    }
}
