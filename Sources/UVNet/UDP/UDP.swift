// UDP sockets: datagrams in batches (recvmmsg), sends without allocating, connected mode, multicast.
import CUV
import Glibc

/// A UDP socket.
///
/// ```swift
/// let socket = try UDPSocket(on: loop)
/// try socket.bind(to: SocketAddress(ip: "127.0.0.1", port: 9000))
/// socket.startReceiving { received in
///     guard case .success(let datagram) = received else { return }
///     socket.send(datagram.bytes, to: datagram.sender)   // echo
/// }
/// ```
/// Datagrams are read up to 20 at a time with `recvmmsg` into a buffer the loop shares among its UDP
/// sockets, and handed over without copying: a datagram's bytes are valid only inside the callback.
public final class UDPSocket: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    /// How the socket is bound.
    public struct BindOptions: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `SO_REUSEADDR`: sockets (multicast receivers) may share an address. Maps to `UV_UDP_REUSEADDR`.
        public static let reuseAddress = BindOptions(rawValue: UV_UDP_REUSEADDR.rawValue)
        /// For an IPv6 address: do not also receive IPv4 datagrams. Maps to `UV_UDP_IPV6ONLY`.
        public static let ipv6Only = BindOptions(rawValue: UV_UDP_IPV6ONLY.rawValue)
    }

    /// One received datagram. `bytes` is valid only inside the receive callback.
    public struct Datagram {
        /// The payload; empty for an empty datagram.
        public let bytes: UnsafeRawBufferPointer
        /// Who sent it.
        public let sender: SocketAddress
    }

    /// How receiving has gone so far: shows whether `recvmmsg` batching is at work.
    public struct Statistics: Sendable, Equatable {
        /// Datagrams delivered.
        public var datagrams = 0
        /// System calls that delivered at least one datagram.
        public var batches = 0
        /// The most datagrams one system call delivered.
        public var largestBatch = 0
        /// Receive errors (an ICMP error answering a connected socket, a truncated datagram): handed to
        /// the callback, or skipped and counted by `datagrams()`.
        public var receiveErrors = 0
    }

    /// What a receive callback gets: a datagram, or an error (`.messageTooLong` for a truncated one).
    public typealias ReceiveResult = Result<Datagram, UVError>
    /// What a send completion gets.
    public typealias Completion = (Result<Void, UVError>) -> Void

    /// The largest payload of one UDP datagram over IPv4.
    public static let maximumPayload = 65_507

    @exclusivity(unchecked)  // called for every datagram, only on the loop's thread
    private var onReceive: ((ReceiveResult) -> Void)?
    private var counters = Statistics()
    private var lastError: UVError?
    /// What `datagrams()` receives into; made when first asked for, kept for the socket's life.
    private var received: DatagramQueue?
    private var datagramsInBatch = 0
    /// `stopReceiving` came while libuv was handing over a recvmmsg batch: libuv's own stop would
    /// drop the rest of the batch (read from the kernel already), so the stop waits for its end.
    private var stopsAtBatchEnd = false

    /// Creates an unbound socket. The corresponding C function is `uv_udp_init_ex` with `UV_UDP_RECVMMSG`.
    public init(on loop: Loop) throws(UVError) {
        try super.init(loop: loop, cType: uv_udp_t.self, operation: "create UDP socket")
        try uvCheck(
            uv_udp_init_ex(loop.raw, udp, UInt32(AF_UNSPEC) | UV_UDP_RECVMMSG.rawValue), "create UDP socket")
        didOpen()
    }

    private var udp: UnsafeMutablePointer<uv_udp_t> {
        rawHandle.cast(to: uv_udp_t.self)
    }

    /// How receiving has gone so far: shows whether `recvmmsg` batching is at work, and the errors.
    public var statistics: Statistics {
        checkThread()
        return counters
    }

    /// The last receive error (see `Statistics.receiveErrors`).
    public var lastReceiveError: UVError? {
        checkThread()
        return lastError
    }

    /// The queue behind `datagrams()`; one that has ended already on a closed socket.
    func datagramQueue() -> DatagramQueue {
        sequenceQueue(&received) { DatagramQueue(socket: self) }
    }

    /// Binds to `address` (port 0 picks a free port). The corresponding C function is `uv_udp_bind`.
    public func bind(to address: SocketAddress, options: BindOptions = []) throws(UVError) {
        try perform("bind UDP", target: "\(address)") {
            address.withSockAddr { sockaddr, _ in uv_udp_bind(udp, sockaddr, options.rawValue) }
        }
    }

    /// Sends only to, and receives only from, `address`. The corresponding C function is `uv_udp_connect`.
    public func connect(to address: SocketAddress) throws(UVError) {
        try perform("connect UDP to", target: "\(address)") {
            address.withSockAddr { sockaddr, _ in uv_udp_connect(udp, sockaddr) }
        }
    }

    /// Undoes `connect(to:)`. The corresponding C function is `uv_udp_connect` with a null address.
    public func disconnect() throws(UVError) {
        try perform("disconnect UDP") { uv_udp_connect(udp, nil) }
    }

    // MARK: Receiving

    /// Starts delivering datagrams. The corresponding C function is `uv_udp_recv_start`.
    public func startReceiving(_ handler: @escaping (ReceiveResult) -> Void) {
        checkThread()
        guard lifecycle == .open else {
            return handler(.failure(UVError.badFileDescriptor.during("receive UDP")))
        }
        onReceive = handler
        stopsAtBatchEnd = false
        do {
            // Already receiving (nil: a stop still waiting for its batch to end): the new handler takes over.
            _ = try uvCheck(
                uv_udp_recv_start(udp, UDPSocket.allocate, UDPSocket.didReceive), "receive UDP",
                tolerating: .alreadyInProgress)
        } catch {
            onReceive = nil
            handler(.failure(error))
        }
    }

    /// Stops delivering datagrams; the kernel queues (and then drops) what arrives meanwhile. Called inside the
    /// receive callback, the datagrams libuv already read in the same batch are still delivered (at most 19 more):
    /// stopping at once would lose them. The corresponding C function is `uv_udp_recv_stop`.
    public func stopReceiving() {
        checkThread()
        guard lifecycle == .open else { return }
        if datagramsInBatch > 0 {
            stopsAtBatchEnd = true
        } else {
            uv_udp_recv_stop(udp)
        }
    }

    private static let allocate: uv_alloc_cb = { handle, _, buffer in
        // libuv reads a batch straight into this buffer and calls back for each datagram before it
        // reads again, so one buffer per loop serves every UDP socket on it.
        buffer!.pointee = Loop.datagramBuffer(of: handle!.pointee.loop)
    }

    private static let didReceive: uv_udp_recv_cb = { handle, count, buffer, sender, flags in
        Handle.callback(handle, as: UDPSocket.self) { $0.didReceive(count, buffer!.pointee, sender, flags) }
    }

    @inline(__always)
    private func didReceive(_ count: Int, _ buffer: uv_buf_t, _ sender: UnsafePointer<sockaddr>?, _ flags: UInt32) {
        // libuv goes on handing over a recvmmsg batch after the socket is closed: nothing after close.
        guard lifecycle == .open else { return }
        if count < 0 {
            return receiveFailed(UVError(CInt(count), operation: "receive UDP"))
        }
        if flags & UV_UDP_MMSG_FREE.rawValue != 0 {
            // The end of one recvmmsg batch (libuv's cue to free the buffer; ours is the loop's).
            endBatch()
            if stopsAtBatchEnd {
                stopsAtBatchEnd = false
                uv_udp_recv_stop(udp)
            }
            return
        }
        // No sender and no bytes: the socket had nothing after all. An empty datagram has a sender.
        guard let sender, let from = SocketAddress(sender) else { return }
        counters.datagrams += 1
        if flags & UV_UDP_MMSG_CHUNK.rawValue != 0 {
            datagramsInBatch += 1
        } else {
            datagramsInBatch = 1
            endBatch()
        }
        if flags & UV_UDP_PARTIAL.rawValue != 0 {
            return receiveFailed(UVError.messageTooLong.during("receive UDP", target: "from \(from)"))
        }
        onReceive?(.success(Datagram(bytes: UnsafeRawBufferPointer(start: buffer.base, count: count), sender: from)))
    }

    private func receiveFailed(_ error: UVError) {
        counters.receiveErrors += 1
        lastError = error
        onReceive?(.failure(error))
    }

    private func endBatch() {
        guard datagramsInBatch > 0 else { return }
        counters.batches += 1
        counters.largestBatch = max(counters.largestBatch, datagramsInBatch)
        datagramsInBatch = 0
    }

    // MARK: Sending

    /// Sends one datagram to `address` (or, with nil, to the connected peer). Nothing is allocated when
    /// the kernel takes it at once; otherwise a copy is queued, so `bytes` may be reused on return.
    ///
    /// `completion` runs once when the datagram is handed to the kernel, or with the error (for example
    /// `.messageTooLong` over `maximumPayload`); before `send` returns when that is known at once.
    /// The corresponding C functions are `uv_udp_try_send` and `uv_udp_send`.
    public func send(_ bytes: UnsafeRawBufferPointer, to address: SocketAddress? = nil, completion: Completion? = nil) {
        checkThread()
        // Named only when an error needs it: formatting the address on every send would cost each datagram.
        var target: String { address.map { "\($0)" } ?? "connected peer" }
        guard lifecycle == .open else {
            completion?(.failure(UVError.badFileDescriptor.during("send UDP to", target: target)))
            return
        }
        var buffer = uv_buf_t(reading: bytes)
        // libuv's try_send answers EAGAIN (nil) while earlier sends are queued, which keeps datagrams in order.
        do {
            let sent = try uvCheck(
                withOptionalSockAddr(address) { uv_udp_try_send(udp, &buffer, 1, $0) }, "send UDP to", target: target,
                tolerating: .tryAgain)
            if sent == nil { return enqueue(bytes, to: address, completion: completion) }
            completion?(.success(()))
        } catch {
            completion?(.failure(error))
        }
    }

    /// Sends the bytes of an array as one datagram.
    public func send(_ bytes: [UInt8], to address: SocketAddress? = nil, completion: Completion? = nil) {
        bytes.withUnsafeBytes { send($0, to: address, completion: completion) }
    }

    /// Sends the UTF-8 bytes of `text` as one datagram.
    public func send(_ text: String, to address: SocketAddress? = nil, completion: Completion? = nil) {
        var text = text
        text.withUTF8 { send(UnsafeRawBufferPointer($0), to: address, completion: completion) }
    }

    private func enqueue(_ bytes: UnsafeRawBufferPointer, to address: SocketAddress?, completion: Completion?) {
        QueuedBytes<uv_udp_send_t>.submit(bytes, completion: completion, "send UDP to", target: address.map { "\($0)" }) {
            request, buffer in withOptionalSockAddr(address) { uv_udp_send(request, udp, buffer, 1, $0, UDPSocket.sent) }
        }
    }

    private static let sent: uv_udp_send_cb = { request, status in
        let socket = request!.pointee.handle
        let completion = QueuedBytes<uv_udp_send_t>.finished(request!)
        Handle.callback(socket, as: UDPSocket.self) { _ in completion?(uvResult(status, "send UDP")) }
    }

    private func withOptionalSockAddr<R>(_ address: SocketAddress?, _ body: (UnsafePointer<sockaddr>?) -> R) -> R {
        guard let address else { return body(nil) }
        return address.withSockAddr { sockaddr, _ in body(sockaddr) }
    }

    /// Datagrams queued in libuv, waiting for the kernel. The corresponding C function is
    /// `uv_udp_get_send_queue_count`.
    public var sendQueueCount: Int {
        checkThread()
        return lifecycle == .closed ? 0 : uv_udp_get_send_queue_count(udp)
    }

    override func didEnter(_ state: State) {
        if state == .closing { received?.finish(.success(())) }
        if state == .closed { onReceive = nil }
        super.didEnter(state)
    }

    // MARK: Options and names

    /// Allows sending to broadcast addresses. The corresponding C function is `uv_udp_set_broadcast`.
    public func setBroadcast(_ enabled: Bool) throws(UVError) {
        try perform("set SO_BROADCAST") { uv_udp_set_broadcast(udp, enabled ? 1 : 0) }
    }

    /// Whether sending to broadcast addresses is allowed (`SO_BROADCAST`, read from the socket).
    public var isBroadcastEnabled: Bool {
        get throws(UVError) {
            checkThread()
            var fd: uv_os_fd_t = -1
            try uvCheck(uv_fileno(rawHandle, &fd), "read SO_BROADCAST")
            var value: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            try posixCheck(getsockopt(fd, SOL_SOCKET, SO_BROADCAST, &value, &length), "read SO_BROADCAST")
            return value != 0
        }
    }

    /// The time-to-live of unicast datagrams (1...255). The corresponding C function is `uv_udp_set_ttl`.
    public func setTTL(_ ttl: Int) throws(UVError) {
        checkThread()
        try checkOpen("set TTL")
        try uvCheck(uv_udp_set_ttl(udp, CInt(clamping: ttl)), "set TTL", target: "\(ttl)")
    }

    /// The time-to-live of multicast datagrams (0...255). The corresponding C function is `uv_udp_set_multicast_ttl`.
    public func setMulticastTTL(_ ttl: Int) throws(UVError) {
        checkThread()
        try checkOpen("set multicast TTL")
        try uvCheck(uv_udp_set_multicast_ttl(udp, CInt(clamping: ttl)), "set multicast TTL", target: "\(ttl)")
    }

    /// Whether this host receives its own multicast datagrams. The corresponding C function is
    /// `uv_udp_set_multicast_loop`.
    public func setMulticastLoop(_ enabled: Bool) throws(UVError) {
        try perform("set multicast loop") { uv_udp_set_multicast_loop(udp, enabled ? 1 : 0) }
    }

    /// Joins the multicast `group` (e.g. `"239.1.2.3"`) on `interface` (an address of this host; nil lets
    /// the system choose). The corresponding C function is `uv_udp_set_membership`.
    public func joinMulticastGroup(_ group: String, interface: String? = nil) throws(UVError) {
        try setMembership(group, interface, UV_JOIN_GROUP, "join multicast group")
    }

    /// Leaves a multicast group joined with `joinMulticastGroup`.
    public func leaveMulticastGroup(_ group: String, interface: String? = nil) throws(UVError) {
        try setMembership(group, interface, UV_LEAVE_GROUP, "leave multicast group")
    }

    private func setMembership(
        _ group: String, _ interface: String?, _ membership: uv_membership, _ operation: String
    ) throws(UVError) {
        try perform(operation, target: group) { uv_udp_set_membership(udp, group, interface, membership) }
    }

    /// The bound address. The corresponding C function is `uv_udp_getsockname`.
    public var localAddress: SocketAddress {
        get throws(UVError) {
            checkThread()
            return try SocketAddress.reading("read local address") { uv_udp_getsockname(udp, $0, $1) }
        }
    }

    /// The connected peer. The corresponding C function is `uv_udp_getpeername`.
    public var remoteAddress: SocketAddress {
        get throws(UVError) {
            checkThread()
            return try SocketAddress.reading("read remote address") { uv_udp_getpeername(udp, $0, $1) }
        }
    }
}
