// An in-memory connected pair on one loop: what a protocol's tests (TLS, framing, HTTP) run over in
// place of sockets, with backpressure, half-close, EOF and reset on demand.
@_spi(StreamLayers) import UVNet

/// One end of an in-memory connection, a `ByteStream` as a socket is one: what one end writes, the
/// other reads, in a later turn of the loop (never inside the write), in order.
///
/// ```swift
/// let (client, server) = MemoryStream.pair(on: loop)
/// let tls = try TLSConnection(over: client, context: clientContext, serverName: "localhost")
/// ```
/// Each end has a receive buffer of `capacity` bytes, as a socket has the kernel's. A reader that stops
/// (`stopReading()`, or an async consumer that lags) lets it fill; then the writer's bytes wait in its
/// write queue (`writeQueueSize`), its writability drops, and an async write waits: backpressure on
/// demand. `shutdown` ends this side's sending (the other reads `.eof` after the bytes before it);
/// `close` does too and fails the other's writes with `.brokenPipe`; `closeWithReset` makes the other
/// read `.connectionReset`.
///
/// Like a handle, an open end keeps itself alive until closed, and belongs to its loop's thread.
public final class MemoryStream: ByteStream, @unchecked Sendable {  // every member checks the loop's thread (`check`: Loop.checkOnLoopThread traps elsewhere)
    /// What reads, writes and shutdowns fail with.
    public typealias Failure = UVError

    /// The loop both ends belong to.
    public let loop: Loop
    /// How errors name the other end.
    public let peerName: String?
    /// The receive buffer's size: how much the other end may write ahead of this end's reads.
    public let capacity: Int

    private var peer: MemoryStream?
    private var keepAlive: MemoryStream?
    private var lifecycle = Handle.State.open
    /// Whom reads go to, and each direction's state, the writability handler and `inbound()`'s buffer,
    /// kept as UVNet's own streams keep them (see `StreamCore`).
    @_spi(StreamLayers) public var reader: ((Result<UnsafeRawBufferPointer, UVError>) -> Void)?
    @_spi(StreamLayers) public var life = StreamLife<UVError>()
    private var isDeliveryScheduled = false
    /// Received and not yet read; then how the stream ends, once the other end has ended it.
    private var received: [UInt8] = []
    private var receivedEnd: UVError?
    /// Written and not yet taken by the other end's receive buffer.
    private var queued: [(bytes: [UInt8], completion: ((Result<Void, UVError>) -> Void)?)] = []
    private var closeCompletions: [() -> Void] = []

    private init(loop: Loop, name: String, capacity: Int) {
        self.loop = loop
        peerName = name
        self.capacity = max(1, capacity)
        keepAlive = self
    }

    /// Two connected ends on `loop` (call on its thread), each with a receive buffer of `capacity` bytes.
    public static func pair(on loop: Loop, capacity: Int = 64 * 1024) -> (client: MemoryStream, server: MemoryStream) {
        loop.checkOnLoopThread("MemoryStream.pair")
        let client = MemoryStream(loop: loop, name: "memory server", capacity: capacity)
        let server = MemoryStream(loop: loop, name: "memory client", capacity: capacity)
        client.peer = server
        server.peer = client
        return (client, server)
    }

    private func check(_ function: StaticString = #function) {
        loop.checkOnLoopThread("MemoryStream.\(function)")
    }

    // MARK: Reading

    @_spi(StreamLayers) public func failure(_ base: UVError, during operation: String) -> UVError {
        base.during(operation, target: peerName)
    }

    /// Delivers what the other end writes, in later turns of the loop, then how it ended.
    @_spi(StreamLayers) public func transportStartReading() {
        scheduleDelivery()
    }

    /// What arrives meanwhile fills the receive buffer, then waits in the writer's queue.
    @_spi(StreamLayers) public func transportStopReading() {}

    private func scheduleDelivery() {
        guard !isDeliveryScheduled, life.reading == .active else { return }
        isDeliveryScheduled = true
        try? loop.execute { [self] in  // a closed loop runs no reader any more: nothing is left to deliver to
            isDeliveryScheduled = false
            deliver()
        }
    }

    private func deliver() {
        while life.reading == .active, let handler = reader {
            if received.isEmpty {
                guard let end = receivedEnd else { return }
                return endReading(with: end.during("read from", target: peerName))
            }
            let chunk = received.prefix(64 * 1024)
            received.removeFirst(chunk.count)
            chunk.withUnsafeBytes { handler(.success($0)) }
            peer?.moveQueued()
        }
    }

    private func take(_ bytes: ArraySlice<UInt8>) {
        received += bytes
        scheduleDelivery()
    }

    private func ended(by end: UVError) {
        if receivedEnd == nil { receivedEnd = end }
        scheduleDelivery()
    }

    // MARK: Writing

    /// Hands `bytes` to the other end's receive buffer as far as it has room, and queues the rest
    /// (copied); `completion` runs once every byte is there, at once when they all fit.
    public func write(_ bytes: UnsafeRawBufferPointer, completion: ((Result<Void, UVError>) -> Void)?) {
        check()
        guard lifecycle == .open else { completion?(.failure(UVError.badFileDescriptor.during("write to", target: peerName))); return }
        guard life.canWrite, let peer else {
            completion?(.failure(UVError.brokenPipe.during("write to", target: peerName)))
            return
        }
        var bytes = Array(bytes)[...]
        if queued.isEmpty {
            let taken = min(bytes.count, peer.room)
            peer.take(bytes.prefix(taken))
            bytes = bytes.dropFirst(taken)
            if bytes.isEmpty { completion?(.success(())); return }
        }
        queued.append((Array(bytes), completion))
        writeQueueChanged()
    }


    private var room: Int { max(0, capacity - received.count) }

    /// Moves what waits in the queue into the other end's room, as it reads.
    private func moveQueued() {
        guard let peer else { return }
        while !queued.isEmpty, peer.room > 0 {
            let taken = min(queued[0].bytes.count, peer.room)
            peer.take(queued[0].bytes.prefix(taken))
            if taken < queued[0].bytes.count {
                queued[0].bytes.removeFirst(taken)
            } else {
                queued.removeFirst().completion?(.success(()))
            }
        }
        writeQueueChanged()
        if queued.isEmpty { finishShutdown() }
    }

    /// Bytes written and not yet taken by the other end's receive buffer.
    public var writeQueueSize: Int {
        check()
        return queuedBytes
    }

    @_spi(StreamLayers) public var queuedBytes: Int { queued.reduce(0) { $0 + $1.bytes.count } }

    // MARK: Ending

    /// Ends this side's sending once the queue has gone over: the other end reads `.eof` after it,
    /// completing in a later turn, as libuv's shutdown does.
    @_spi(StreamLayers) public func transportShutdown() {
        try? loop.execute { [self] in if queued.isEmpty { finishShutdown() } }
    }

    private func finishShutdown() {
        guard case .shuttingDown = life.writing, lifecycle == .open else { return }
        let result: Result<Void, UVError> = peer == nil ? .failure(UVError.brokenPipe.during("shut down", target: peerName)) : .success(())
        peer?.ended(by: .eof)
        shutdownEnded(result)
    }

    /// Closes this end: the other reads `.eof` after what it has, and its writes fail with
    /// `.brokenPipe`. What is still queued here is dropped (`.canceled`).
    public func close(_ completion: (() -> Void)?) {
        check()
        close(telling: .eof, completion)
    }

    /// Closes this end so that the other reads `.connectionReset` (after what it has).
    public func closeWithReset(_ completion: (() -> Void)?) {
        check()
        close(telling: .connectionReset, completion)
    }

    private func close(telling end: UVError, _ completion: (() -> Void)?) {
        if let completion { lifecycle == .closed ? completion() : closeCompletions.append(completion) }
        guard lifecycle == .open else { return }
        lifecycle = .closing
        streamClosing()
        let canceled = UVError.canceled.during("write to", target: peerName)
        for write in queued { write.completion?(.failure(canceled)) }
        queued = []
        shutdownEnded(.failure(canceled))
        if let peer {
            self.peer = nil
            peer.peer = nil
            peer.ended(by: end)
            peer.failQueued(UVError.brokenPipe)
        }
        let finish: @Sendable () -> Void = { [self] in
            lifecycle = .closed
            let completions = closeCompletions
            closeCompletions = []
            keepAlive = nil
            for completion in completions { completion() }
        }
        // Closed in a later turn, as libuv closes handles; at once when the loop takes no more work.
        do { try loop.execute(finish) } catch { finish() }
    }

    private func failQueued(_ error: UVError) {
        let writes = queued
        queued = []
        for write in writes { write.completion?(.failure(error.during("write to", target: peerName))) }
        shutdownEnded(.failure(error.during("shut down", target: peerName)))
    }

    /// Runs `observer` once this end has closed; at once if it has.
    public func whenClosed(_ observer: @escaping () -> Void) {
        check()
        if lifecycle == .closed { return observer() }
        closeCompletions.append(observer)
    }

    /// Where this end is in its life.
    public var state: Handle.State {
        check()
        return lifecycle
    }
}

@_spi(StreamLayers) extension MemoryStream: StreamCore {}
