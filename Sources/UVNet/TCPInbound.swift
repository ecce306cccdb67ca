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

/// The state behind `TCPInbound`: chunks read ahead of the consumer, at most about a high watermark.
final class InboundBuffer: ConsumerQueue<[UInt8]>, @unchecked Sendable {
    private let connection: TCPConnection
    private let highWatermark: Int
    private let lowWatermark: Int
    private let idleTimeout: Duration?
    private var buffered = 0
    private(set) var peakBuffered = 0
    private var isReading = false
    private var isObservingClose = false
    private var idleTimer: Timer?

    init(connection: TCPConnection, highWatermark: Int, lowWatermark: Int, idleTimeout: Duration?) {
        self.connection = connection
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.idleTimeout = idleTimeout
        super.init(loop: connection.loop)
    }

    override func consumerWaits() {
        startReading()
        armIdleTimer()
    }

    override func consumerStoppedWaiting() {
        idleTimer?.stop()
    }

    override func didQueue(_ chunk: [UInt8]) {
        buffered += chunk.count
        peakBuffered = max(peakBuffered, buffered)
        if buffered >= highWatermark {
            // The consumer lags: let the kernel hold the rest, and TCP slow the peer down.
            isReading = false
            connection.stopReading()
        }
    }

    override func didTake(_ chunk: [UInt8]) {
        buffered -= chunk.count
        if !isReading && end == nil && buffered <= lowWatermark { startReading() }
    }

    override func didFinish() {
        idleTimer?.close()
        idleTimer = nil
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
        connection.startReading { [self] result in
            switch result {
            case .success(let bytes):
                deliver(Array(bytes))
            case .failure(let error):
                isReading = false
                finish(error == .eof ? .success(()) : .failure(error))
            }
        }
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
