// What a connection receives, as an AsyncSequence that stops reading while its consumer lags.
import CUV

/// The bytes a `TCPConnection` receives, chunk by chunk, until the peer's EOF (the sequence ends) or
/// an error (it throws: `.connectionReset`, `.timedOut` after `idleTimeout`, …).
///
/// ```swift
/// for try await chunk in connection.inbound() {
///     try await connection.write(chunk)
/// }
/// ```
/// Buffering is bounded: above `highWatermark` buffered bytes the connection stops reading (the
/// kernel's buffers fill, then TCP pushes back on the peer); below `lowWatermark` it reads again.
/// One consumer at a time.
public struct TCPInbound: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let buffer: InboundBuffer

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: InboundBuffer

        public mutating func next() async throws -> [UInt8]? {
            try await buffer.next()
        }
    }

    /// The most bytes ever buffered here, waiting for the consumer (read it on the loop's thread).
    public var peakBufferedBytes: Int { buffer.peakBuffered }
}

extension TCPConnection {
    /// What the peer sends, as an AsyncSequence with bounded buffering. Reading starts with the first
    /// `next()`. With `idleTimeout`, waiting longer than that for bytes throws `.timedOut`.
    public func inbound(
        highWatermark: Int = 256 * 1024, lowWatermark: Int = 64 * 1024, idleTimeout: Duration? = nil
    ) -> TCPInbound {
        TCPInbound(
            buffer: InboundBuffer(
                connection: self, highWatermark: max(1, highWatermark),
                lowWatermark: min(max(0, lowWatermark), highWatermark), idleTimeout: idleTimeout))
    }
}

/// The state behind `TCPInbound`, touched only on the loop's thread.
final class InboundBuffer: @unchecked Sendable {
    private let connection: TCPConnection
    private let highWatermark: Int
    private let lowWatermark: Int
    private let idleTimeout: Duration?
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var buffered = 0
    private(set) var peakBuffered = 0
    private var end: Result<Void, UVError>?
    private var waiter: Wake<[UInt8]?>?
    private var isReading = false
    private var isObservingClose = false
    private var idleTimer: Timer?

    init(connection: TCPConnection, highWatermark: Int, lowWatermark: Int, idleTimeout: Duration?) {
        self.connection = connection
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.idleTimeout = idleTimeout
    }

    @inline(__always)
    func next() async throws -> [UInt8]? {
        // On the loop's thread with bytes already here: no suspension at all.
        if connection.loop.isOnLoopThread, let chunk = takeChunk() { return chunk }
        return try await connection.loop.suspend(
            start: { [self] wake in
                if let chunk = takeChunk() { return wake.resume(.success(chunk)) }
                if let end { return wake.resume(end.map { nil }.mapError { $0 }) }
                waiter = wake
                startReading()
                armIdleTimer()
            },
            cancel: { [self] wake in
                waiter = nil
                idleTimer?.stop()
                wake.resume(.failure(CancellationError()))
            })
    }

    private func takeChunk() -> [UInt8]? {
        guard head < chunks.count else { return nil }
        let chunk = chunks[head]
        head += 1
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        }
        buffered -= chunk.count
        if !isReading && end == nil && buffered <= lowWatermark { startReading() }
        return chunk
    }

    private func startReading() {
        guard !isReading, end == nil else { return }
        if !isObservingClose {
            isObservingClose = true
            // A waiting consumer must not wait forever on a connection someone closed.
            connection.observeClose { [weak self] in
                self?.finish(.failure(UVError.canceled.during("read", target: "a closed connection")))
            }
        }
        isReading = true
        connection.startReading { [self] in received($0) }
    }

    private func received(_ result: TCPConnection.ReadResult) {
        switch result {
        case .success(let bytes):
            if let waiter, head == chunks.count {
                self.waiter = nil
                idleTimer?.stop()
                return waiter.resume(.success(Array(bytes)))
            }
            chunks.append(Array(bytes))
            buffered += bytes.count
            peakBuffered = max(peakBuffered, buffered)
            if buffered >= highWatermark {
                // The consumer lags: let the kernel hold the rest, and TCP slow the peer down.
                isReading = false
                connection.stopReading()
            }
        case .failure(let error):
            isReading = false
            finish(error == .eof ? .success(()) : .failure(error))
        }
    }

    private func finish(_ outcome: Result<Void, UVError>) {
        guard end == nil else { return }
        end = outcome
        idleTimer?.close()
        idleTimer = nil
        guard let waiter, head == chunks.count else { return }
        self.waiter = nil
        waiter.resume(outcome.map { nil }.mapError { $0 })
    }

    private func armIdleTimer() {
        guard let idleTimeout else { return }
        if idleTimer == nil { idleTimer = try? Timer(on: connection.loop) }
        idleTimer?.start(after: idleTimeout) { [self] in
            let peer = (try? connection.remoteAddress).map { "\($0)" }
            connection.stopReading()
            isReading = false
            finish(.failure(UVError(UV_ETIMEDOUT.rawValue, operation: "read from", target: peer,
                                    detail: "no data for \(idleTimeout)")))
        }
    }

    deinit {
        idleTimer?.close()
    }
}

extension TCPInbound {
    /// The frames `framer` finds in what the connection receives, one `[UInt8]` each:
    /// ```swift
    /// for try await line in connection.inbound().frames(DelimiterFramer()) { … }
    /// ```
    /// A frame over the framer's limit throws `.messageTooLong`; a stream that ends inside a frame
    /// throws `.eof` (the frame was cut short).
    public func frames<F: Framer>(_ framer: F) -> TCPFrames<F> {
        TCPFrames(inbound: self, framer: framer)
    }
}

/// The frames of a `TCPInbound`; see `TCPInbound.frames(_:)`.
public struct TCPFrames<F: Framer>: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let inbound: TCPInbound
    let framer: F

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: inbound.makeAsyncIterator(), framer: framer)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: TCPInbound.AsyncIterator
        var framer: F
        var ready: [[UInt8]] = []
        var head = 0

        public mutating func next() async throws -> [UInt8]? {
            while head == ready.count {
                ready.removeAll(keepingCapacity: true)
                head = 0
                guard let chunk = try await chunks.next() else {
                    if framer.pendingByteCount > 0 {
                        throw UVError(UV_EOF.rawValue, operation: "read frame",
                                      detail: "the stream ended inside a frame (\(framer.pendingByteCount) bytes of it)")
                    }
                    return nil
                }
                var found: [[UInt8]] = []
                try chunk.withUnsafeBytes { bytes in try framer.feed(bytes) { found.append(Array($0)) } }
                ready = found
            }
            defer { head += 1 }
            return ready[head]
        }
    }
}
