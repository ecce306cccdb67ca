// What every libuv byte stream (TCP, Unix-domain, a child's pipes) shares: borrowed-byte reads, try-write-first
// writes, the write queue, the half-close. Written once, as libuv's stream.c is; each kind adds only what differs.
import CUV

/// A byte stream: the base of `TCPConnection` and `UnixConnection`.
///
/// Reads lend their bytes from the loop's read buffer, valid only inside the read callback; writes go to the kernel at
/// once when it takes them (`uv_try_write`) and are copied into a queued write only for what it leaves. The async face
/// (`inbound()`, `write(_:timeout:)`, `shutdown()`) is built on these.
public class StreamConnection: Handle, ByteStream, @unchecked Sendable {  // Handle's members check the loop's thread
    /// What a read callback receives: bytes valid only inside the callback, or `.eof`, or an error.
    public typealias ReadResult = Result<UnsafeRawBufferPointer, UVError>
    /// What a write, shutdown or connect completion receives.
    public typealias Completion = (Result<Void, UVError>) -> Void

    @exclusivity(unchecked)  // called on every read, only on the loop's thread
    @_spi(StreamLayers) public final var reader: ((ReadResult) -> Void)?
    // Unchecked: used on the loop's thread only, and its methods never call out (they return whom to
    // tell), so no access can overlap another; the dynamic check would cost some 90 instructions a message.
    @exclusivity(unchecked)
    @_spi(StreamLayers) public final var life = StreamLife<UVError>()

    var stream: UnsafeMutablePointer<uv_stream_t> {
        rawHandle.cast(to: uv_stream_t.self)
    }

    /// Remembered, since a socket that was reset can no longer say who its peer was.
    public internal(set) final var peerName: String?
    /// The completion of the connect under way.
    private var onConnect: Completion?

    override var errorTarget: String? { peerName }

    /// A listener accepted this connection: remember what error messages will want of the peer.
    func didAccept() {}

    // MARK: Connecting

    /// Begins a connect to `target` that `completion` will hear the end of, once the caller has
    /// started it with `start`; throws if the connection is closed, connecting already, or `start` fails.
    final func connect(to target: String, _ completion: @escaping Completion, start: () throws(UVError) -> Void) throws(UVError) {
        try checkOpen("connect to", target: target)
        guard onConnect == nil else { throw UVError.alreadyInProgress.during("connect to", target: target) }
        try start()
        peerName = target
        onConnect = completion
    }

    /// The connect under way has ended: its completion hears `outcome`, once.
    final func finishConnect(_ outcome: Result<Void, UVError>) {
        let completion = onConnect
        onConnect = nil
        completion?(outcome)
    }

    @_spi(StreamLayers) public func failure(_ base: UVError, during operation: String) -> UVError {
        base.during(operation, target: peerName)
    }

    // MARK: Reading

    /// Has libuv read into the loop's read buffer: nothing is allocated per read. The corresponding C
    /// functions are `uv_read_start` and `uv_read_stop`.
    @_spi(StreamLayers) public func transportStartReading() throws(UVError) {
        // Already reading (nil): the new handler has taken over, which is all a second call asks for.
        _ = try uvCheck(
            uv_read_start(stream, StreamConnection.allocate, StreamConnection.didRead), "read from", target: peerName,
            tolerating: .alreadyInProgress)
    }

    @_spi(StreamLayers) public func transportStopReading() {
        uv_read_stop(stream)
    }

    public func startReadingAnyError(_ handler: @escaping (Result<UnsafeRawBufferPointer, any Error>) -> Void) {
        startReading { result in
            switch result {
            case .success(let bytes): handler(.success(bytes))
            case .failure(let error): handler(.failure(error))
            }
        }
    }

    private static let allocate: uv_alloc_cb = { handle, _, buffer in
        // libuv reads straight after this call, and the read callback runs before any other read on
        // the loop, so one buffer per loop serves every connection on it.
        buffer!.pointee = Loop.readBuffer(of: handle!.pointee.loop)
    }

    private static let didRead: uv_read_cb = { stream, count, buffer in
        Handle.callback(stream, as: StreamConnection.self) { $0.didRead(count, buffer!.pointee) }
    }

    @inline(__always)
    private func didRead(_ count: Int, _ buffer: uv_buf_t) {
        if count > 0 {
            reader?(.success(UnsafeRawBufferPointer(start: buffer.base, count: count)))
        } else if count < 0 {
            // libuv stops reading by itself after EOF and errors; the handler sees each once.
            endReading(with: UVError(CInt(count), operation: "read from", target: peerName))
        }
        // count == 0 is libuv's EAGAIN: nothing was read, which is not the end of the stream.
    }

    // MARK: Writing

    /// The kernel usually takes the bytes at once and nothing is allocated; otherwise the rest is copied
    /// into a queued write. When the kernel takes everything at once (or the write fails at once),
    /// `completion` runs before `write` returns. The corresponding C functions are `uv_try_write` and `uv_write`.
    public func write(_ bytes: UnsafeRawBufferPointer, completion: Completion? = nil) {
        checkThread()
        send(bytes, lent: false, completion: completion)
    }

    /// Hands the kernel what it takes now and queues the rest (a copy, or the bytes where they are when
    /// `lent`); `completion` runs at once when nothing had to wait.
    @inline(__always)
    private func send(_ bytes: UnsafeRawBufferPointer, lent: Bool, completion: Completion?) {
        switch writeNow(bytes) {
        case .written: completion?(.success(()))
        case .failed(let error): completion?(.failure(error))
        case .partly(let written): enqueue(UnsafeRawBufferPointer(rebasing: bytes[written...]), lent: lent, completion: completion)
        }
    }

    public func writeAnyError(_ bytes: UnsafeRawBufferPointer, completion: ((Result<Void, any Error>) -> Void)?) {
        write(bytes, completion: completion.map { done in { done($0.mapError { $0 }) } })
    }

    public func writeOrQueue(_ bytes: UnsafeRawBufferPointer) throws -> Awaited<Void>? {
        checkThread()
        switch writeNow(bytes) {
        case .written: return nil
        case .failed(let error): throw error
        case .partly(let written):
            let rest = Awaited<Void>()
            enqueue(UnsafeRawBufferPointer(rebasing: bytes[written...]), lent: false, completion: rest.complete)
            return rest
        }
    }

    /// What the kernel does not take at once is queued where it is, not copied.
    public func write(lent bytes: UnsafeRawBufferPointer, completion: @escaping (Result<Void, any Error>) -> Void) {
        checkThread()
        send(bytes, lent: true) { completion($0.mapError { $0 }) }
    }

    /// How far a write got without waiting.
    private enum ImmediateWrite {
        case written
        case partly(Int)
        case failed(UVError)
    }

    /// Hands the kernel what it takes now (the caller has checked the thread).
    /// The corresponding C function is `uv_try_write`.
    @inline(__always)
    private func writeNow(_ bytes: UnsafeRawBufferPointer) -> ImmediateWrite {
        guard lifecycle == .open else { return .failed(UVError.badFileDescriptor.during("write to", target: peerName)) }
        guard !bytes.isEmpty else { return .written }
        var buffer = uv_buf_t(reading: bytes)
        // uv_try_write answers EAGAIN (nil) while earlier writes are queued, which keeps the bytes in order.
        let taken: CInt?
        do {
            taken = try uvCheck(uv_try_write(stream, &buffer, 1), "write to", target: peerName, tolerating: .tryAgain)
        } catch {
            return .failed(error)
        }
        guard let taken else { return .partly(0) }
        return Int(taken) == bytes.count ? .written : .partly(Int(taken))
    }

    /// Queues `rest` behind whatever is already queued, so bytes leave in order: a copy of it, or, when
    /// `lent`, the bytes where they are (the caller keeps them until the completion); on an IPC pipe,
    /// carrying `handle` with them. The corresponding C function is `uv_write2`.
    func enqueue(
        _ rest: UnsafeRawBufferPointer, lent: Bool, carrying handle: UnsafeMutablePointer<uv_stream_t>? = nil,
        completion: Completion?
    ) {
        let queued = QueuedBytes<uv_write_t>.submit(rest, copying: !lent, completion: completion, "write to", target: peerName) {
            uv_write2($0, stream, $1, 1, handle, StreamConnection.wrote)
        }
        if queued { writeQueueChanged() }
    }

    private static let wrote: uv_write_cb = { request, status in
        let handle = request!.pointee.handle
        let completion = QueuedBytes<uv_write_t>.finished(request!)
        Handle.callback(handle, as: StreamConnection.self) { connection in
            completion?(uvResult(status, "write to", target: connection.peerName))
            connection.writeQueueChanged()
        }
    }

    /// The corresponding C function is `uv_stream_get_write_queue_size` (read as its field: echo's hot path).
    public var writeQueueSize: Int {
        checkThread()
        return lifecycle == .closed ? 0 : queuedBytes
    }

    // MARK: Ending

    /// Sends FIN after every queued write has gone out. The corresponding C function is `uv_shutdown`.
    @_spi(StreamLayers) public func transportShutdown() {
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        do {
            try uvCheck(uv_shutdown(request, stream, StreamConnection.didShutdown), "shut down", target: peerName)
        } catch {
            request.deallocate()
            shutdownEnded(.failure(error))
        }
    }

    private static let didShutdown: uv_shutdown_cb = { request, status in
        let handle = request!.pointee.handle
        request!.deallocate()
        Handle.callback(handle, as: StreamConnection.self) { connection in
            // Also after close began: libuv cancels the shutdown, and the callers hear `.canceled`.
            connection.shutdownEnded(uvResult(status, "shut down", target: connection.peerName))
        }
    }

    /// Bytes in libuv's write queue, read as the field `uv_stream_get_write_queue_size` returns.
    @_spi(StreamLayers) public var queuedBytes: Int { stream.pointee.write_queue_size }

    /// A plain close, for a stream that has no other way to tell the peer it gave up.
    public func closeWithReset(_ completion: (() -> Void)? = nil) {
        close(completion)
    }

    override func didEnter(_ state: State) {
        // A waiting `inbound()` ends the way a clean end reads: after what it already holds, with nil.
        if state == .closing { streamClosing() }
        if state == .closed { onConnect = nil }
        super.didEnter(state)
    }
}

@_spi(StreamLayers) extension StreamConnection: StreamCore {}
