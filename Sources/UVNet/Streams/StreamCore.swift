// What every kind of byte stream does alike (who reads and how reading ends, the half-close, writability, inbound()'s
// buffer), written once over the hooks by which each kind (libuv's, TLS, the in-memory pair) moves its bytes.

/// A byte stream built on the shared core. It keeps a `StreamLife` and its reader, and says how its
/// transport starts and stops delivering, half-closes and counts what waits to be sent; the core is
/// the rest of `ByteStream`'s reading, shutdown and writability.
@_spi(StreamLayers) public protocol StreamCore: ByteStream {
    /// The stream's life. Its methods never call out, so a stream may keep it `@exclusivity(unchecked)`.
    var life: StreamLife<Failure> { get set }
    /// Whom reads go to while reading is started or paused. The stream keeps it in a stored field of its
    /// own concrete type and calls it from there on every read: a closure kept in a generic type would be
    /// called through a conversion thunk, some 30 instructions a read.
    var reader: ((Result<UnsafeRawBufferPointer, Failure>) -> Void)? { get set }
    /// `base` as this stream reports it: during `operation`, naming the peer.
    func failure(_ base: UVError, during operation: String) -> Failure
    /// Has the transport deliver to `reader` (reading is active already), or throws why it cannot.
    func transportStartReading() throws(Failure)
    /// Has the transport stop delivering, for now or for good.
    func transportStopReading()
    /// Why a shutdown cannot start yet, if it cannot; nil on a stream ready to half-close.
    var shutdownRefusal: Failure? { get }
    /// Starts the half-close once every queued write has gone out, and calls `shutdownEnded` with how it ended.
    func transportShutdown()
    /// Bytes waiting to be sent, as the writability handler measures them (asked on the loop's thread).
    var queuedBytes: Int { get }
}

extension StreamCore {
    @inline(__always)
    func checkLoopThread(_ function: StaticString = #function) {
        loop.checkOnLoopThread("\(Self.self).\(function)")
    }

    public var shutdownRefusal: Failure? { nil }

    // MARK: Reading

    // The requirements of `ByteStream`, written once; their documentation is the protocol's.

    public func startReading(_ handler: @escaping (Result<UnsafeRawBufferPointer, Failure>) -> Void) {
        checkLoopThread()
        if let end = life.startReading(closed: failure(.badFileDescriptor, during: "read from")) { return handler(.failure(end)) }
        reader = handler
        do throws(Failure) {
            try transportStartReading()
        } catch {
            life.startFailed()
            reader = nil
            handler(.failure(error))
        }
    }

    public func stopReading() {
        checkLoopThread()
        if life.pauseReading() { transportStopReading() }
    }

    public func endReading() {
        checkLoopThread()
        guard !life.isClosed else { return }
        transportStopReading()
        endReading(with: failure(.eof, during: "read from"))
    }

    /// Reading is over: the reader hears `end`, once.
    public func endReading(with end: Failure) {
        guard life.endReading(end), let handler = reader else { return }
        reader = nil
        handler(.failure(end))
    }

    // MARK: Writing

    public func onWritabilityChange(watermarks: WriteWatermarks, _ handler: ((Bool) -> Void)?) {
        checkLoopThread()
        life.onWritabilityChange(watermarks: watermarks, handler, queued: queuedBytes)
    }

    public var isWritable: Bool {
        checkLoopThread()
        return life.isWritable
    }

    /// What waits to be sent changed: tells the writability handler when it crossed a watermark.
    @inline(__always)
    public func writeQueueChanged() {
        if let (handler, isWritable) = life.writeQueueChanged(to: { queuedBytes }) { handler(isWritable) }
    }

    // MARK: Ending

    public func shutdown(_ completion: ((Result<Void, Failure>) -> Void)?) {
        checkLoopThread()
        if life.isClosed { return completion?(.failure(failure(.badFileDescriptor, during: "shut down"))) ?? () }
        if life.canWrite, let refusal = shutdownRefusal { return completion?(.failure(refusal)) ?? () }
        if life.shutdown(completion).startsNow(telling: completion) { transportShutdown() }
    }

    /// The half-close is over (or could not start): everyone who asked for it hears `result`.
    public func shutdownEnded(_ result: Result<Void, Failure>) {
        for waiting in life.shutdownEnded(result) { waiting(result) }
    }

    /// The stream begins closing: its life closes (see `StreamLife.close()`) and the reader is let go, untold.
    public func streamClosing() {
        life.close()
        reader = nil
    }

    public var inboundBuffer: InboundBuffer {
        checkLoopThread()
        return life.inboundBuffer()
    }
}
