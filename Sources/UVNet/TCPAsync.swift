// TCP with async/await, built on the callback API: connect, write, shut down, close, timeouts.
import CUV

extension TCPConnection {
    /// Connects to `address`. Throws the connect error naming the address, `.timedOut` after `timeout`,
    /// or `CancellationError` if the task is canceled first (the attempt is closed at once either way).
    public static func connect(
        to address: SocketAddress, on loop: Loop, timeout: Duration? = nil
    ) async throws -> TCPConnection {
        let attempt = LoopBound<TCPConnection?>(nil, on: loop)
        return try await loop.suspend(
            timeout: timeout.map { Timeout($0, operation: "connect to", target: { "\(address)" }, detail: "no answer within \($0)") },
            { wake in
                do {
                    let connection = try TCPConnection(on: loop)
                    attempt.value = connection
                    try connection.connect(to: address) { result in
                        switch result {
                        case .success:
                            wake.resume(.success(connection))
                        case .failure(let error):
                            connection.close()
                            wake.resume(.failure(error))
                        }
                    }
                } catch {
                    attempt.value?.close()
                    wake.resume(.failure(error))
                }
            },
            abandon: { attempt.value?.close() })
    }

    /// Resolves `host` and connects to each address in turn until one accepts (see the callback form).
    /// A timeout or cancellation stops the resolution and the attempt in flight at once.
    public static func connect(
        host: String, port: Int, on loop: Loop, timeout: Duration? = nil
    ) async throws -> TCPConnection {
        let attempt = LoopBound<ConnectAttempt?>(nil, on: loop)
        return try await loop.suspend(
            timeout: timeout.map { Timeout($0, operation: "connect to", target: { "\(host):\(port)" }, detail: "no answer within \($0)") },
            { wake in
                attempt.value = connect(host: host, port: port, on: loop) { wake.resume($0.mapError { $0 }) }
            },
            abandon: { attempt.value?.cancel() })
    }

    /// Connects, runs `body` with the connection, and closes it whichever way `body` ends: no handle
    /// can leak.
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
        let connection = try await connect(to: address, on: loop, timeout: timeout)
        do {
            let result = try await body(connection)
            await connection.close()
            return result
        } catch {
            await connection.close()
            throw error
        }
    }

    /// Writes `bytes`; returns when all of them are handed to the kernel (at once, without suspending,
    /// when the kernel takes them all). Throws the write error, `.timedOut` after `timeout`, or
    /// `CancellationError`. A write that times out or is canceled takes nothing back: the bytes already
    /// handed over stay queued and go out in order, and the connection stays usable (close it, or
    /// `closeWithReset()` it, to give up on a peer that does not read).
    public func write(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        if loop.isOnLoopThread && timeout == nil {
            switch bytes.withUnsafeBytes({ writeNow($0) }) {
            case .written:
                return
            case .failed(let error):
                throw error
            case .partly(let written):
                // The rest is queued now, before the task can be told it is canceled: a write that
                // has begun goes out whole.
                let queued = Awaited<Void>()
                bytes.withUnsafeBytes { enqueue(UnsafeRawBufferPointer(rebasing: $0[written...]), completion: queued.complete) }
                return try await queued.value(on: loop)
            }
        }
        try await waitForWrite(of: bytes, timeout: timeout)
    }

    /// Writes the UTF-8 bytes of `text` (see `write(_:timeout:)`).
    public func write(_ text: String, timeout: Duration? = nil) async throws {
        try await write(Array(text.utf8), timeout: timeout)
    }

    /// Writes `bytes` on the loop's thread and waits for the kernel to have them all. A task canceled
    /// before the write began sends nothing.
    private func waitForWrite(of bytes: [UInt8], timeout: Duration?) async throws {
        try await loop.suspend(
            timeout: timeout.map { Timeout($0, operation: "write to", target: { [self] in peerName }, detail: "the peer did not take it all within \($0)") },
            { [self] (wake: Wake<Void>) in
                bytes.withUnsafeBytes { write($0) { wake.resume($0.mapError { $0 }) } }
            },
            abandon: {})
    }

    /// Half-closes once every queued write has gone out (see `shutdown(_:)`). Canceling the wait leaves
    /// the shutdown under way.
    public func shutdown() async throws {
        try await loop.suspend({ [self] (wake: Wake<Void>) in shutdown { wake.resume($0.mapError { $0 }) } }, abandon: {})
    }
}
