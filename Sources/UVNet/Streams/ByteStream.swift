// What a byte stream is, whatever carries it; its async face (inbound, write, shutdown) is written once, on it.

/// Bytes both ways between this process and a peer, on one loop: `TCPConnection`, `UnixConnection`,
/// `TLSConnection` (UVNetTLS) over any byte stream, or one of your own (see the article "Streams and
/// their layers"). Its members belong to the loop's thread, as a handle's do.
///
/// The callback requirements are the core; `inbound()`, `write(_:timeout:)` and `shutdown()` are built on them once.
public protocol ByteStream: AnyObject, LoopClosable {
    /// What reads, writes and shutdowns fail with: `UVError` for plain streams; `any Error` for TLS,
    /// which adds its own. The clean end is `UVError.eof`, so a stream of your own uses one of the two.
    associatedtype Failure: Error

    /// The peer as error messages name it (`127.0.0.1:9000`, `example.com:443`), once known.
    var peerName: String? { get }

    /// Starts delivering what the peer sends: each chunk as bytes valid only inside the call, then
    /// `UVError.eof` once at the peer's clean end, or an error.
    func startReading(_ handler: @escaping (Result<UnsafeRawBufferPointer, Failure>) -> Void)

    /// Stops reading until `startReading` is called again; nothing is lost meanwhile.
    func stopReading()

    /// Stops reading for good, as if the peer had ended: the read handler gets `UVError.eof` now. For a
    /// graceful shutdown: nothing already received is lost, and nothing more is taken in.
    func endReading()

    /// Sends `bytes` (reusable on return); `completion` runs once all of them are with the kernel, or with the error.
    func write(_ bytes: UnsafeRawBufferPointer, completion: ((Result<Void, Failure>) -> Void)?)

    /// Ends this side's sending once what is queued has gone out; reading goes on until the peer ends.
    /// A second call while one is under way completes when the first does, with its result; one after
    /// it has ended completes at once with that result; one after `close` fails at once.
    func shutdown(_ completion: ((Result<Void, Failure>) -> Void)?)

    /// Bytes written but not yet taken by the kernel: what a writer watches to stop producing.
    var writeQueueSize: Int { get }

    /// Calls `handler` with false when the queued writes pass `watermarks.high`, and with true once
    /// they are back under `watermarks.low`: write backpressure for callback code. Only what the kernel
    /// did not take at once is queued, so a fast peer never makes it false; `nil` stops the calls.
    ///
    /// ```swift
    /// connection.onWritabilityChange { writable in     // an echo: read only while the peer keeps up
    ///     if writable { connection.startReading(echo) } else { connection.stopReading() }
    /// }
    /// ```
    func onWritabilityChange(watermarks: WriteWatermarks, _ handler: ((Bool) -> Void)?)

    /// False while the queued writes are past the high watermark of `onWritabilityChange`.
    var isWritable: Bool { get }

    /// Closes the stream; `completion` runs once it is closed. Idempotent. What is still queued is dropped (each such
    /// write completes with `.canceled`): to end after every byte, `shutdown` and close in its completion.
    func close(_ completion: (() -> Void)?)

    /// Closes at once, telling the peer this end gave up rather than finished: TCP sends an RST (the
    /// peer reads `.connectionReset`), TLS sends no close_notify (the peer reads a truncation), other
    /// streams close. What is still queued is dropped, as by `close`.
    func closeWithReset(_ completion: (() -> Void)?)

    /// Where the stream is in its life.
    var state: Handle.State { get }

    /// Where `inbound()` keeps what was read ahead of its consumer, for the stream's whole life.
    var inboundBuffer: InboundBuffer { get }

    /// Runs `observer` once the stream has closed, whoever closed it (its owner, a layer over it, or
    /// the loop's `close()`); at once if it has. How a layer over a stream (TLS) ends with it.
    func whenClosed(_ observer: @escaping () -> Void)

    // What the layers above a stream (the async face, `inbound()`, TLS) call, with failures as `any Error`. Each has a
    // default, so a stream of your own need not implement them; UVNet's streams do, so the conversion is compiled for
    // their failure type (the generic defaults look the types up at run time, some 600 instructions a chunk).

    /// `startReading`, with failures as `any Error`.
    func startReadingAnyError(_ handler: @escaping (Result<UnsafeRawBufferPointer, any Error>) -> Void)

    /// `write(_:completion:)`, with failures as `any Error`.
    func writeAnyError(_ bytes: UnsafeRawBufferPointer, completion: ((Result<Void, any Error>) -> Void)?)

    /// Writes `bytes` as `write(_:completion:)` does, for a caller that awaits the end: nil when the
    /// kernel took every byte at once, else the write's end to await. A failure at once is thrown.
    func writeOrQueue(_ bytes: UnsafeRawBufferPointer) throws -> Awaited<Void>?

    /// Writes `bytes`, which the caller keeps valid until `completion` runs, so a stream may send them from where they
    /// are instead of copying what the kernel does not take at once. A stream that does must run `completion` before
    /// its close completes (with `.canceled` if need be): the caller frees the memory then.
    func write(lent bytes: UnsafeRawBufferPointer, completion: @escaping (Result<Void, any Error>) -> Void)
}

/// What `inbound()` keeps for a stream between iterators: the bytes read ahead of the consumer and whether it has
/// ended. A `ByteStream` makes one on first use, keeps it for its life, and calls `streamClosed()` as it closes.
public final class InboundBuffer: @unchecked Sendable {  // touched on the stream's loop thread only (its queue's `attach` checks)
    private var queue: InboundQueue?
    private var isClosed = false

    /// An empty buffer, for a type of your own that conforms to `ByteStream`.
    public init() {}

    /// The stream is closing: `inbound()` ends after the bytes it already holds.
    public func streamClosed() {
        isClosed = true
        queue?.finish(.success(()))
    }

    /// The queue behind `inbound()`, made on first use; one that has ended already on a closed stream.
    func queue<Stream: ByteStream>(for stream: Stream) -> InboundQueue {
        if let queue { return queue }
        let made = InboundQueue(stream: stream)
        queue = made
        if isClosed { made.finish(.success(())) }
        return made
    }

    /// The most bytes ever buffered, waiting for a consumer.
    var peakBuffered: Int { queue?.peakBuffered ?? 0 }
}

extension ByteStream {
    /// Sends `bytes` without asking to hear when they have gone (see `write(_:completion:)`).
    @inline(__always)
    public func write(_ bytes: UnsafeRawBufferPointer) {
        write(bytes, completion: nil)
    }

    /// Sends the bytes of an array (see `write(_:completion:)` for the buffer-pointer form).
    public func write(_ bytes: [UInt8], completion: ((Result<Void, Failure>) -> Void)? = nil) {
        bytes.withUnsafeBytes { write($0, completion: completion) }
    }

    /// Sends the UTF-8 bytes of `text`.
    public func write(_ text: String, completion: ((Result<Void, Failure>) -> Void)? = nil) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0), completion: completion) }
    }

    /// Ends this side's sending without asking to hear when it has (see `shutdown(_:)`).
    public func shutdown() {
        shutdown(nil)
    }

    /// `onWritabilityChange(watermarks:_:)` with the standard watermarks.
    public func onWritabilityChange(_ handler: ((Bool) -> Void)?) {
        onWritabilityChange(watermarks: .standard, handler)
    }

    /// Closes the stream without waiting (see `close(_:)`).
    public func close() {
        close(nil)
    }

    /// Closes at once, telling the peer this end gave up (see `closeWithReset(_:)`).
    public func closeWithReset() {
        closeWithReset(nil)
    }

    /// The generic way: each failure converted at run time (see the requirement).
    public func startReadingAnyError(_ handler: @escaping (Result<UnsafeRawBufferPointer, any Error>) -> Void) {
        startReading { handler($0.mapError { $0 }) }
    }

    /// The generic way: each failure converted at run time (see the requirement).
    public func writeAnyError(_ bytes: UnsafeRawBufferPointer, completion: ((Result<Void, any Error>) -> Void)?) {
        write(bytes, completion: completion.map { done in { done($0.mapError { $0 }) } })
    }

    /// The generic way: the write's completion parked in an `Awaited` (see the requirement).
    public func writeOrQueue(_ bytes: UnsafeRawBufferPointer) throws -> Awaited<Void>? {
        let written = Awaited<Void>()
        writeAnyError(bytes, completion: written.complete)
        return try written.unlessDone()
    }

    /// The generic way: the bytes are copied as `write(_:completion:)` copies them.
    public func write(lent bytes: UnsafeRawBufferPointer, completion: @escaping (Result<Void, any Error>) -> Void) {
        writeAnyError(bytes, completion: completion)
    }
}

extension ByteStream {
    /// Writes `bytes`; returns when all of them are handed to the kernel (at once, without suspending, when the kernel
    /// takes them all). Throws the write error, `.timedOut` after `timeout`, or `CancellationError`. A write that
    /// times out or is canceled takes nothing back: what was handed over goes out in order, and the stream stays
    /// usable (close or `closeWithReset(_:)` it to give up on a peer that does not read). What the kernel does not
    /// take at once is copied; to send memory of your own without that copy, see `write(borrowing:)`.
    // Inlinable: the write the kernel takes at once then runs in the caller's frame, with no frame of its own to
    // allocate (measured: some 190 instructions a message).
    @inlinable
    public func write(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        guard timeout == nil, loop.isOnLoopThread else { return try await suspendForWrite(of: bytes, timeout: timeout) }
        // The rest is queued now, before the task can learn it is canceled: a write that has begun goes out whole.
        if let rest = try bytes.withUnsafeBytes({ try writeOrQueue($0) }) { try await rest.value(on: loop) }
    }

    /// Writes `bytes`, which must stay valid and unchanged until this returns: a plain socket sends what the kernel
    /// does not take at once from where it is, not from a copy (TLS encrypts it into buffers of its own; a stream
    /// without a way to borrow copies it). It returns once the stream is done with the memory: when the kernel has
    /// every byte, or with the write's error. Canceling the task gives up on the peer (`closeWithReset`: the stream is
    /// closed) and the write then fails with `.canceled`; there is no timeout, for the same reason.
    public func write(borrowing bytes: UnsafeRawBufferPointer) async throws {
        // An address, not a pointer, crosses to the loop: the caller's await keeps the memory alive.
        let (address, count) = (UInt(bitPattern: bytes.baseAddress), bytes.count)
        try await withTaskCancellationHandler {
            try await loop.suspendUntilDone { [self] (wake: Wake<Void>) in
                write(lent: UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: count)) { wake.resume($0) }
            }
        } onCancel: {
            // The wait itself must not end before the stream lets go of the bytes: end the stream, which fails the
            // write at once, and the wait with it. (Refused only by a closed loop, which has closed every stream.)
            _ = loop.runOnLoopThread { [self] in closeWithReset() }
        }
    }

    /// Writes `bytes` on the loop's thread and waits for the kernel to have them all. A task canceled
    /// before the write began sends nothing.
    @usableFromInline
    func suspendForWrite(of bytes: [UInt8], timeout: Duration?) async throws {
        try await loop.suspend(
            timeout: timeout.map { Timeout($0, operation: "write to", target: { [self] in peerName }, detail: "the peer did not take it all within \($0)") },
            { [self] (wake: Wake<Void>) in
                bytes.withUnsafeBytes { writeAnyError($0) { wake.resume($0) } }
            },
            abandon: {})
    }

    /// Writes the UTF-8 bytes of `text` (see `write(_:timeout:)`).
    public func write(_ text: String, timeout: Duration? = nil) async throws {
        try await write(Array(text.utf8), timeout: timeout)
    }

    /// Ends this side's sending (see `shutdown(_:)`); canceling the wait leaves the shutdown under way.
    public func shutdown() async throws {
        try await loop.suspend({ [self] (wake: Wake<Void>) in shutdown { wake.resume($0.mapError { $0 }) } }, abandon: {})
    }

    /// Runs `body` with `stream`, then closes it, whichever way `body` ends.
    @_spi(StreamLayers) public static func closing<Result: Sendable>(
        _ stream: Self, _ body: (Self) async throws -> Result
    ) async throws -> Result {
        do {
            let result = try await body(stream)
            await stream.close()
            return result
        } catch {
            await stream.close()
            throw error
        }
    }
}
