// What a stream receives, as an AsyncSequence that stops reading while its consumer lags, and the frames in it.
import CUV

/// The bytes a stream (`TCPConnection`, `UnixConnection`, `TLSConnection`) receives until the peer's clean end or the
/// close (the sequence ends), or an error it throws (`.connectionReset`, `.timedOut` after `idleTimeout`, …).
///
/// ```swift
/// for try await chunk in connection.inbound() {
///     try await connection.write(chunk)
/// }
/// ```
/// Buffering is bounded: above `highWatermark` buffered bytes the stream stops reading (the kernel's buffers fill,
/// then TCP pushes back on the peer); below `lowWatermark` it reads again. One iterator consumes at a time (a second
/// one's `next()` throws `.busy`); when an iterator goes away the stream stops reading and keeps what it read ahead
/// for the next, so `inbound()` may be called again (with other limits) without losing a byte.
public struct InboundBytes: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let loop: Loop
    let peer: @Sendable () -> String?
    /// Finds the stream's queue, on the loop's thread.
    let locate: @Sendable () -> InboundQueue
    let highWatermark: Int
    let lowWatermark: Int
    let idleTimeout: Duration?

    public func makeAsyncIterator() -> AsyncIterator {
        let (high, low, peer) = (highWatermark, lowWatermark, peer)
        let timeout = idleTimeout.map { idle in
            Timeout(idle, operation: "read from", target: peer, detail: "no data for \(idle)")
        }
        return AsyncIterator(
            consumer: SequenceConsumer(
                loop: loop, timeout: timeout, target: peer,
                locate: locate, configure: { $0.setWatermarks(high: high, low: low) }))
    }

    /// Takes the elements one `next()` at a time, on the loop's thread.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: SequenceConsumer<[UInt8], InboundQueue>

        public mutating func next() async throws -> [UInt8]? {
            try await consumer.next()
        }
    }

    /// The most bytes ever buffered for this stream, waiting for a consumer (on the loop's thread).
    public var peakBufferedBytes: Int {
        loop.checkOnLoopThread("InboundBytes.peakBufferedBytes")
        return locate().peakBuffered
    }
}

@available(*, unavailable, message: "an iterator belongs to one task; share the sequence instead")
extension InboundBytes.AsyncIterator: Sendable {}

extension ByteStream {
    /// What the peer sends, as an AsyncSequence with bounded buffering. Reading starts with the first
    /// `next()`. With `idleTimeout`, a `next()` that waits longer than that for bytes throws `.timedOut`.
    public func inbound(
        highWatermark: Int = 256 * 1024, lowWatermark: Int = 64 * 1024, idleTimeout: Duration? = nil
    ) -> InboundBytes {
        InboundBytes(
            loop: loop, peer: { [self] in peerName }, locate: { [self] in inboundBuffer.queue(for: self) },
            highWatermark: max(1, highWatermark), lowWatermark: min(max(0, lowWatermark), highWatermark),
            idleTimeout: idleTimeout)
    }
}

/// The state behind `InboundBytes`: chunks read ahead of the consumer, at most about a high watermark.
final class InboundQueue: ConsumerQueue<[UInt8]>, @unchecked Sendable {  // loop thread only, as ConsumerQueue is: `attach` checks the thread, and its waits resume through `Wake.resume`, which checks too
    /// The stream's reading, held weakly: the stream owns its queue; the queue only asks it to read or stop.
    private let resumeStream: (@escaping (Result<UnsafeRawBufferPointer, any Error>) -> Void) -> Bool
    private let pauseStream: () -> Void
    private var highWatermark = 256 * 1024
    private var lowWatermark = 64 * 1024
    private var buffered = 0
    private(set) var peakBuffered = 0
    private var isReading = false

    init<Stream: ByteStream>(stream: Stream) {
        resumeStream = { [weak stream] handler in
            guard let stream else { return false }
            stream.startReadingAnyError(handler)
            return true
        }
        pauseStream = { [weak stream] in stream?.stopReading() }
        super.init(loop: stream.loop, operation: "read from")
    }

    /// The limits of the consumer that attaches now.
    func setWatermarks(high: Int, low: Int) {
        highWatermark = high
        lowWatermark = low
    }

    override func consumerWaits() {
        startReading()
    }

    override func consumerLeft() {
        guard isReading else { return }
        isReading = false
        pauseStream()
    }

    override func didQueue(_ chunk: [UInt8]) {
        buffered += chunk.count
        peakBuffered = max(peakBuffered, buffered)
        if buffered >= highWatermark && isReading {
            // The consumer lags: let the kernel hold the rest, and TCP slow the peer down.
            isReading = false
            pauseStream()
        }
    }

    override func didTake(_ chunk: [UInt8]) {
        buffered -= chunk.count
        if !isReading && end == nil && buffered <= lowWatermark { startReading() }
    }

    private func startReading() {
        guard !isReading, end == nil else { return }
        isReading = true
        let started = resumeStream { [self] result in
            switch result {
            case .success(let bytes):
                deliver(Array(bytes))
            case .failure(let error):
                isReading = false
                finish((error as? UVError) == .eof ? .success(()) : .failure(error))
            }
        }
        if !started { isReading = false }
    }
}

extension InboundBytes {
    /// The frames `framer` finds in what the connection receives, one `[UInt8]` each:
    /// ```swift
    /// for try await line in connection.inbound().frames(DelimiterFramer()) { … }
    /// ```
    /// Frames found before a framing error come first; then a frame over the framer's limit throws `.messageTooLong`,
    /// and a stream ending inside a frame throws `.protocolError` (a clean end is a nil, never an error).
    public func frames<F: Framer>(_ framer: F) -> InboundFrames<F> {
        InboundFrames(inbound: self, framer: framer)
    }
}

/// The frames of an `InboundBytes`; see `InboundBytes.frames(_:)`.
public struct InboundFrames<F: Framer>: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let inbound: InboundBytes
    let framer: F

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: inbound.makeAsyncIterator(), framer: framer)
    }

    /// Takes the elements one `next()` at a time, on the loop's thread.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: InboundBytes.AsyncIterator
        var framer: F
        var ready: [[UInt8]] = []
        var head = 0
        /// A framing error found after the frames in `ready`: thrown once they are taken.
        var failure: (any Error)?
        /// Set once the stream or the framing has ended: nil from then on, as iterators do.
        var isDone = false

        public mutating func next() async throws -> [UInt8]? {
            while head == ready.count {
                ready.removeAll(keepingCapacity: true)
                head = 0
                if isDone { return nil }
                if let failure {
                    isDone = true
                    throw failure
                }
                guard let chunk = try await chunks.next() else {
                    isDone = true
                    guard framer.pendingByteCount == 0 else {
                        throw UVError(
                            UV_EPROTO.rawValue, operation: "read frame",
                            detail: "the stream ended inside a frame (\(framer.pendingByteCount) bytes of it)")
                    }
                    return nil
                }
                var found: [[UInt8]] = []
                do {
                    try chunk.withUnsafeBytes { bytes in try framer.feed(bytes) { found.append(Array($0)) } }
                } catch {
                    failure = error
                }
                ready = found
            }
            defer { head += 1 }
            return ready[head]
        }
    }
}

@available(*, unavailable, message: "an iterator belongs to one task; share the sequence instead")
extension InboundFrames.AsyncIterator: Sendable {}
