// TCP with async/await, built on the callback API: connect, accept, write, shut down, close, timeouts.
import CUV

extension TCPConnection {
    /// Connects to `address`. Throws the connect error naming the address, `.timedOut` after `timeout`,
    /// or `CancellationError` if the task is canceled first (the attempt is closed either way).
    public static func connect(
        to address: SocketAddress, on loop: Loop, timeout: Duration? = nil
    ) async throws -> TCPConnection {
        let attempt = Attempt()
        return try await loop.suspend(
            start: { wake in
                do {
                    let connection = try TCPConnection(on: loop)
                    attempt.connection = connection
                    attempt.deadline = try timeout.map { timeout in
                        try Timer.once(after: timeout, on: loop) {
                            wake.resume(.failure(UVError(UV_ETIMEDOUT.rawValue, operation: "connect to",
                                                         target: "\(address)", detail: "no answer within \(timeout)")))
                            connection.close()
                        }
                    }
                    try connection.connect(to: address) { result in
                        attempt.deadline?.close()
                        switch result {
                        case .success: wake.resume(.success(connection))
                        case .failure(let error):
                            connection.close()
                            wake.resume(.failure(error))
                        }
                    }
                } catch {
                    attempt.abandon()
                    wake.resume(.failure(error))
                }
            },
            cancel: { wake in
                wake.resume(.failure(CancellationError()))
                attempt.abandon()
            })
    }

    /// Resolves `host` and connects to each address in turn until one accepts (see the callback form).
    public static func connect(
        host: String, port: Int, on loop: Loop, timeout: Duration? = nil
    ) async throws -> TCPConnection {
        let attempt = Attempt()
        return try await loop.suspend(
            start: { wake in
                do {
                    attempt.deadline = try timeout.map { timeout in
                        try Timer.once(after: timeout, on: loop) {
                            attempt.isAbandoned = true
                            wake.resume(.failure(UVError(UV_ETIMEDOUT.rawValue, operation: "connect to",
                                                         target: "\(host):\(port)", detail: "no answer within \(timeout)")))
                        }
                    }
                } catch {
                    return wake.resume(.failure(error))
                }
                connect(host: host, port: port, on: loop) { result in
                    attempt.deadline?.close()
                    switch result {
                    case .success(let connection) where attempt.isAbandoned: connection.close()
                    case .success(let connection): wake.resume(.success(connection))
                    case .failure(let error): wake.resume(.failure(error))
                    }
                }
            },
            cancel: { wake in
                attempt.isAbandoned = true
                attempt.deadline?.close()
                wake.resume(.failure(CancellationError()))
            })
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
    /// `CancellationError`; a write that times out or is canceled closes the connection, since how much
    /// of it went out is unknown.
    public func write(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        if loop.isOnLoopThread && timeout == nil {
            switch bytes.withUnsafeBytes({ writeNow($0) }) {
            case .written: return
            case .failed(let error): throw error
            case .partly(let written): return try await waitForWrite(of: bytes, from: written, timeout: nil)
            }
        }
        try await waitForWrite(of: bytes, from: nil, timeout: timeout)
    }

    /// Writes the UTF-8 bytes of `text` (see `write(_:timeout:)`).
    public func write(_ text: String, timeout: Duration? = nil) async throws {
        try await write(Array(text.utf8), timeout: timeout)
    }

    /// Queues `bytes` (or, when `written` is known, what is left after it) and waits for the kernel.
    private func waitForWrite(of bytes: [UInt8], from written: Int?, timeout: Duration?) async throws {
        let deadline = DeadlineBox()
        try await loop.suspend(
            start: { [self] (wake: Wake<Void>) in
                let finished: Completion = { result in
                    deadline.timer?.close()
                    wake.resume(result.mapError { $0 })
                }
                if let timeout {
                    deadline.timer = try? Timer.once(after: timeout, on: loop) { [self] in
                        wake.resume(.failure(UVError(UV_ETIMEDOUT.rawValue, operation: "write to", target: peerName,
                                                     detail: "the peer took nothing for \(timeout)")))
                        closeWithReset()
                    }
                }
                bytes.withUnsafeBytes { buffer in
                    if let written {
                        enqueue(UnsafeRawBufferPointer(rebasing: buffer[written...]), completion: finished)
                    } else {
                        write(buffer, completion: finished)
                    }
                }
            },
            cancel: { [self] wake in
                deadline.timer?.close()
                wake.resume(.failure(CancellationError()))
                closeWithReset()
            })
    }

    /// Half-closes once every queued write has gone out (see `shutdown(_:)`).
    public func shutdown() async throws {
        try await loop.suspend(
            start: { [self] (wake: Wake<Void>) in shutdown { wake.resume($0.mapError { $0 }) } },
            cancel: { wake in wake.resume(.failure(CancellationError())) })
    }
}

extension TCPListener {
    /// The connections this listener accepts, as an AsyncSequence; it ends when the listener closes.
    /// A connection is accepted only when asked for, so a consumer that lags leaves the rest waiting in
    /// the kernel's backlog. Failed accepts are skipped and counted (`acceptFailures`, `lastAcceptError`).
    /// Use it only on a listener created without a connection handler.
    public var connections: Connections { Connections(listener: self) }

    /// The connections of a listener; see `connections`.
    public struct Connections: AsyncSequence, Sendable {
        public typealias Element = TCPConnection
        let listener: TCPListener

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(listener: listener) }

        public struct AsyncIterator: AsyncIteratorProtocol {
            let listener: TCPListener
            public mutating func next() async throws -> TCPConnection? {
                try await listener.nextConnection()
            }
        }
    }
}

/// The connection attempt of an async connect, so a cancel or timeout can close it.
private final class Attempt: @unchecked Sendable {
    var connection: TCPConnection?
    var deadline: Timer?
    var isAbandoned = false

    func abandon() {
        isAbandoned = true
        deadline?.close()
        connection?.close()
    }
}

private final class DeadlineBox: @unchecked Sendable {
    var timer: Timer?
}
