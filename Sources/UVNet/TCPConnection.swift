// A TCP connection: connect, read with zero copies, write without allocating, half-close, reset.
import CUV

/// A TCP byte stream, made by `connect(to:_:)` or accepted by a `TCPListener`.
///
/// ```swift
/// let connection = try TCPConnection(on: loop)
/// try connection.connect(to: SocketAddress(ip: "127.0.0.1", port: 9000)) { result in
///     guard case .success = result else { return print(result) }
///     connection.write("hello\n")
///     connection.startReading { chunk in
///         switch chunk {
///         case .success(let bytes): print(String(decoding: bytes, as: UTF8.self))
///         case .failure: connection.close()   // .eof, or a real error
///         }
///     }
/// }
/// ```
public final class TCPConnection: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    /// What a read callback receives: bytes valid only inside the callback, or `.eof`, or an error.
    public typealias ReadResult = Result<UnsafeRawBufferPointer, UVError>
    /// What a write, shutdown or connect completion receives.
    public typealias Completion = (Result<Void, UVError>) -> Void

    @exclusivity(unchecked)  // called on every read, only on the loop's thread
    private var onRead: ((ReadResult) -> Void)?
    private var onConnect: Completion?
    /// The peer, remembered for error messages: once reset, the socket can no longer say.
    private var peer: SocketAddress?
    /// What `inbound()` reads into; made when first asked for, kept for the connection's life.
    private var inbound: InboundQueue?

    /// Creates an unconnected TCP handle. The corresponding C function is `uv_tcp_init`.
    public init(on loop: Loop) throws(UVError) {
        try super.init(loop: loop, cType: uv_tcp_t.self, operation: "create TCP connection")
        try uvCheck(uv_tcp_init(loop.raw, tcp), "create TCP connection")
        didOpen()
    }

    var tcp: UnsafeMutablePointer<uv_tcp_t> {
        rawHandle.cast(to: uv_tcp_t.self)
    }

    var stream: UnsafeMutablePointer<uv_stream_t> {
        rawHandle.cast(to: uv_stream_t.self)
    }

    /// The peer as text for error messages, once known.
    var peerName: String? {
        peer?.description
    }

    /// The queue behind `inbound()`; one that has ended already on a closed connection.
    func inboundQueue() -> InboundQueue {
        sequenceQueue(&inbound) { InboundQueue(connection: self) }
    }

    // MARK: Connecting

    /// Connects to `address`. `completion` runs once: `.success`, or an error naming the address
    /// (`.connectionRefused`, or `.canceled` when the connection is closed first).
    /// Throws, without calling `completion`, when the connect cannot even start.
    /// The corresponding C function is `uv_tcp_connect`.
    public func connect(to address: SocketAddress, _ completion: @escaping Completion) throws(UVError) {
        checkThread()
        let operation = "connect to"
        try checkOpen(operation, target: "\(address)")
        guard onConnect == nil else { throw UVError.alreadyInProgress.during(operation, target: "\(address)") }
        let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        do {
            try uvCheck(
                address.withSockAddr { sockaddr, _ in uv_tcp_connect(request, tcp, sockaddr, TCPConnection.connected) },
                operation, target: "\(address)")
        } catch {
            request.deallocate()
            throw error
        }
        peer = address
        onConnect = completion
    }

    private static let connected: uv_connect_cb = { request, status in
        let handle = request!.pointee.handle
        request!.deallocate()
        Handle.callback(handle, as: TCPConnection.self) { connection in
            let completion = connection.onConnect
            connection.onConnect = nil
            completion?(uvResult(status, "connect to", target: connection.peerName))
        }
    }

    /// Resolves `host` and connects to its addresses in the order the system gives, one after the other,
    /// until one accepts (so `localhost` works whether it answers on `::1` or on `127.0.0.1`).
    /// `completion` runs once with the connection, or the error of the last address tried (or of
    /// resolving), or `.canceled` after `cancel()` on the attempt returned.
    @discardableResult
    public static func connect(
        host: String, port: Int, on loop: Loop, _ completion: @escaping (Result<TCPConnection, UVError>) -> Void
    ) -> ConnectAttempt {
        let attempt = ConnectAttempt(host: host, port: port, on: loop, completion)
        attempt.start()
        return attempt
    }

    /// Remembers the peer of an accepted connection (for error messages).
    func didAccept() {
        peer = try? remoteAddress
    }

    // MARK: Reading

    /// Starts delivering what the peer sends. `handler` gets each chunk as bytes that are valid only
    /// inside the call (they live in the loop's read buffer: copy what you keep), then `.eof` once
    /// when the peer half-closes, or an error (`.connectionReset`, …). Nothing is allocated per read.
    /// The corresponding C function is `uv_read_start`.
    public func startReading(_ handler: @escaping (ReadResult) -> Void) {
        checkThread()
        guard lifecycle == .open else {
            return handler(.failure(UVError.badFileDescriptor.during("read", target: peerName)))
        }
        onRead = handler
        do {
            // Already reading (nil): the new handler has taken over, which is all a second call asks for.
            _ = try uvCheck(
                uv_read_start(stream, TCPConnection.allocate, TCPConnection.didRead), "read", target: peerName,
                tolerating: .alreadyInProgress)
        } catch {
            onRead = nil
            handler(.failure(error))
        }
    }

    /// Stops reading; the kernel buffers (and eventually pushes back on the peer) until `startReading`.
    /// The corresponding C function is `uv_read_stop`.
    public func stopReading() {
        checkThread()
        guard lifecycle == .open else { return }
        uv_read_stop(stream)
    }

    /// Stops reading for good, as if the peer had half-closed: the read handler gets `.eof` now (an async
    /// `inbound()` ends after the bytes it already holds). For a graceful shutdown: nothing already
    /// received is lost, and nothing more is taken in.
    public func endReading() {
        checkThread()
        guard lifecycle == .open, let handler = onRead else { return }
        uv_read_stop(stream)
        onRead = nil
        handler(.failure(UVError.eof.during("read", target: peerName)))
    }

    private static let allocate: uv_alloc_cb = { handle, _, buffer in
        // libuv reads straight after this call, and the read callback runs before any other read on
        // the loop, so one buffer per loop serves every connection on it.
        buffer!.pointee = Loop.readBuffer(of: handle!.pointee.loop)
    }

    private static let didRead: uv_read_cb = { stream, count, buffer in
        Handle.callback(stream, as: TCPConnection.self) { $0.didRead(count, buffer!.pointee) }
    }

    @inline(__always)
    private func didRead(_ count: Int, _ buffer: uv_buf_t) {
        if count > 0 {
            onRead?(.success(UnsafeRawBufferPointer(start: buffer.base, count: count)))
        } else if count < 0 {
            // libuv stops reading by itself after EOF and errors; the handler sees each once.
            onRead?(.failure(UVError(CInt(count), operation: "read", target: peerName)))
        }
        // count == 0 is libuv's EAGAIN: nothing was read, which is not the end of the stream.
    }

    // MARK: Writing

    /// Sends `bytes`. The kernel usually takes them at once and nothing is allocated; otherwise the
    /// rest is copied into a queued write, so `bytes` may be reused as soon as this returns.
    ///
    /// `completion` runs once when every byte is handed to the kernel, or with the error. When the
    /// kernel takes everything at once (or the write fails at once) it runs before `write` returns.
    /// The corresponding C functions are `uv_try_write` and `uv_write`.
    public func write(_ bytes: UnsafeRawBufferPointer, completion: Completion? = nil) {
        checkThread()
        switch writeNow(bytes) {
        case .written: completion?(.success(()))
        case .failed(let error): completion?(.failure(error))
        case .partly(let written): enqueue(UnsafeRawBufferPointer(rebasing: bytes[written...]), completion: completion)
        }
    }

    /// How far a write got without waiting.
    enum ImmediateWrite {
        case written
        case partly(Int)
        case failed(UVError)
    }

    /// Hands the kernel what it takes now (the caller has checked the thread).
    /// The corresponding C function is `uv_try_write`.
    @inline(__always)
    func writeNow(_ bytes: UnsafeRawBufferPointer) -> ImmediateWrite {
        guard lifecycle == .open else { return .failed(UVError.badFileDescriptor.during("write", target: peerName)) }
        guard !bytes.isEmpty else { return .written }
        var buffer = uv_buf_t(reading: bytes)
        // uv_try_write answers EAGAIN (nil) while earlier writes are queued, which keeps the bytes in order.
        let taken: CInt?
        do {
            taken = try uvCheck(uv_try_write(stream, &buffer, 1), "write", target: peerName, tolerating: .tryAgain)
        } catch {
            return .failed(error)
        }
        guard let taken else { return .partly(0) }
        return Int(taken) == bytes.count ? .written : .partly(Int(taken))
    }

    /// Queues `rest` behind whatever is already queued, so bytes leave in the order they were written.
    func enqueue(_ rest: UnsafeRawBufferPointer, completion: Completion?) {
        var (request, buffer) = QueuedBytes<uv_write_t>.make(copying: rest)
        request.pointee.data = .retaining(completion)
        do {
            try uvCheck(uv_write(request, stream, &buffer, 1, TCPConnection.wrote), "write", target: peerName)
        } catch {
            let completion = takeCompletion(request.pointee.data, as: Result<Void, UVError>.self)
            QueuedBytes<uv_write_t>.free(request)
            completion?(.failure(error))
        }
    }

    private static let wrote: uv_write_cb = { request, status in
        let completion = takeCompletion(request!.pointee.data, as: Result<Void, UVError>.self)
        let handle = request!.pointee.handle
        QueuedBytes<uv_write_t>.free(request!)
        Handle.callback(handle, as: TCPConnection.self) { connection in
            completion?(uvResult(status, "write", target: connection.peerName))
        }
    }

    /// Sends the bytes of an array (see `write(_:completion:)` for the buffer-pointer form).
    public func write(_ bytes: [UInt8], completion: Completion? = nil) {
        bytes.withUnsafeBytes { write($0, completion: completion) }
    }

    /// Sends the UTF-8 bytes of `text`.
    public func write(_ text: String, completion: Completion? = nil) {
        var text = text
        text.withUTF8 { write(UnsafeRawBufferPointer($0), completion: completion) }
    }

    /// Bytes queued in libuv, waiting for the kernel to take them. The corresponding C function is
    /// `uv_stream_get_write_queue_size` (read here as the field it returns, on the hot path of echo).
    public var writeQueueSize: Int {
        checkThread()
        return lifecycle == .closed ? 0 : stream.pointee.write_queue_size
    }

    // MARK: Ending

    /// Half-closes: sends FIN after every queued write has gone out; reading goes on until the peer's EOF.
    /// The corresponding C function is `uv_shutdown`.
    public func shutdown(_ completion: Completion? = nil) {
        checkThread()
        guard lifecycle == .open else {
            completion?(.failure(UVError.badFileDescriptor.during("shut down", target: peerName)))
            return
        }
        let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        request.pointee.data = .retaining(completion)
        do {
            try uvCheck(uv_shutdown(request, stream, TCPConnection.didShutdown), "shut down", target: peerName)
        } catch {
            let completion = takeCompletion(request.pointee.data, as: Result<Void, UVError>.self)
            request.deallocate()
            completion?(.failure(error))
        }
    }

    private static let didShutdown: uv_shutdown_cb = { request, status in
        let completion = takeCompletion(request!.pointee.data, as: Result<Void, UVError>.self)
        let handle = request!.pointee.handle
        request!.deallocate()
        Handle.callback(handle, as: TCPConnection.self) { connection in
            completion?(uvResult(status, "shut down", target: connection.peerName))
        }
    }

    /// Closes at once with an RST instead of a FIN: queued writes are dropped (their completions get
    /// `.canceled`) and the peer sees `.connectionReset`. Falls back to a plain close while a shutdown
    /// is pending. The corresponding C function is `uv_tcp_close_reset`.
    public func closeWithReset(_ completion: (() -> Void)? = nil) {
        checkThread()
        beginClosing(completion) { handle, closed in
            if !uvSucceeded(uv_tcp_close_reset(handle.cast(to: uv_tcp_t.self), closed)) { uv_close(handle, closed) }
        }
    }

    override func didEnter(_ state: State) {
        // A waiting reader ends the way a clean end reads: after what it already holds, with nil.
        if state == .closing { inbound?.finish(.success(())) }
        if state == .closed { (onRead, onConnect) = (nil, nil) }
        super.didEnter(state)
    }

    // MARK: Options and names

    /// Turns Nagle's algorithm off (true) or on. The corresponding C function is `uv_tcp_nodelay`.
    public func setNoDelay(_ enabled: Bool) throws(UVError) {
        checkThread()
        try checkOpen("set TCP_NODELAY", target: peerName)
        try uvCheck(uv_tcp_nodelay(tcp, enabled ? 1 : 0), "set TCP_NODELAY", target: peerName)
    }

    /// Turns TCP keep-alive on, probing after `delay` seconds idle, or off.
    /// The corresponding C function is `uv_tcp_keepalive`.
    public func setKeepAlive(_ enabled: Bool, delay: UInt32 = 60) throws(UVError) {
        checkThread()
        try checkOpen("set SO_KEEPALIVE", target: peerName)
        try uvCheck(uv_tcp_keepalive(tcp, enabled ? 1 : 0, delay), "set SO_KEEPALIVE", target: peerName)
    }

    /// This end's address. The corresponding C function is `uv_tcp_getsockname`.
    public var localAddress: SocketAddress {
        get throws(UVError) {
            checkThread()
            return try SocketAddress.reading("read local address") { uv_tcp_getsockname(tcp, $0, $1) }
        }
    }

    /// The peer's address. The corresponding C function is `uv_tcp_getpeername`.
    public var remoteAddress: SocketAddress {
        get throws(UVError) {
            checkThread()
            return try SocketAddress.reading("read remote address") { uv_tcp_getpeername(tcp, $0, $1) }
        }
    }
}
