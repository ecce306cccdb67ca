// A listening TCP socket: bind, listen, accept connections, and back off when accepting fails.
import CUV
import Glibc

/// A TCP server socket that hands each accepted connection to a handler.
///
/// ```swift
/// let listener = try TCPListener(on: loop, address: SocketAddress(ip: "127.0.0.1", port: 0)) { result in
///     guard case .success(let connection) = result else { return }
///     connection.startReading { chunk in … }
/// }
/// print("listening on \(try listener.localAddress)")
/// ```
/// In async code, `serve { connection in … }` runs each connection in a task of its own and closes it
/// when the task ends; `connections` hands them out one by one.
public final class TCPListener: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    /// How the socket is bound.
    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `SO_REUSEPORT`: several listeners (on several loops or processes) share one port and the
        /// kernel spreads connections among them.
        public static let reusePort = Options(rawValue: 1 << 0)
        /// For an IPv6 address: do not also accept IPv4 connections. Maps to `UV_TCP_IPV6ONLY`.
        public static let ipv6Only = Options(rawValue: 1 << 1)
    }

    /// What the handler receives: a new connection (already open, not yet reading) or an accept error.
    public typealias AcceptResult = Result<TCPConnection, UVError>

    /// The first pause after accept runs out of file descriptors or memory; it doubles up to `maximumBackoff`.
    static let initialBackoff: Duration = .milliseconds(10)
    static let maximumBackoff: Duration = .seconds(1)

    private var onConnection: ((AcceptResult) -> Void)?
    /// What `connections` takes from; made when first asked for, kept for the listener's life.
    private var accepted: ConnectionQueue?
    /// The address asked for, as text for error messages.
    let addressText: String
    private var backoff: AcceptBackoff?
    private var failures = 0
    private var lastFailure: UVError?

    /// Binds to `address` (port 0 picks a free port: read it back from `localAddress`) and listens.
    /// With `onConnection`, every connection (or accept error) goes to it; without, connections wait
    /// in the kernel until taken from `connections` (or `serve`).
    /// Throws `.addressInUse` naming the address when the port is taken.
    /// The corresponding C functions are `uv_tcp_init_ex`, `uv_tcp_bind` and `uv_listen`.
    public init(
        on loop: Loop,
        address: SocketAddress,
        options: Options = [],
        backlog: Int = 511,
        _ onConnection: ((AcceptResult) -> Void)? = nil
    ) throws(UVError) {
        addressText = address.description
        self.onConnection = onConnection
        try super.init(loop: loop, cType: uv_tcp_t.self, operation: "create listener")
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        // init_ex creates the socket now, so SO_REUSEPORT can be set on it before bind (libuv 1.44
        // has no flag for it).
        try uvCheck(uv_tcp_init_ex(loop.raw, tcp, UInt32(family)), "create listener", target: addressText)
        didOpen()
        do throws(UVError) {
            try configureAndListen(address, options: options, backlog: backlog)
        } catch {
            close()
            throw error
        }
    }

    private func configureAndListen(_ address: SocketAddress, options: Options, backlog: Int) throws(UVError) {
        if options.contains(.reusePort) {
            var fd: uv_os_fd_t = -1
            try uvCheck(uv_fileno(rawHandle, &fd), "set SO_REUSEPORT", target: addressText)
            try uvCheck(cuv_set_reuse_port(fd), "set SO_REUSEPORT", target: addressText)
        }
        let flags: UInt32 = options.contains(.ipv6Only) ? UV_TCP_IPV6ONLY.rawValue : 0
        try uvCheck(address.withSockAddr { sockaddr, _ in uv_tcp_bind(tcp, sockaddr, flags) }, "bind", target: addressText)
        // libuv reports EADDRINUSE from listen, not bind; name it as the bind it is.
        try uvCheck(uv_listen(stream, CInt(clamping: backlog), TCPListener.incoming), "bind", target: addressText)
    }

    private var tcp: UnsafeMutablePointer<uv_tcp_t> {
        rawHandle.cast(to: uv_tcp_t.self)
    }

    private var stream: UnsafeMutablePointer<uv_stream_t> {
        rawHandle.cast(to: uv_stream_t.self)
    }

    /// The bound address, with the real port when bound to port 0.
    /// The corresponding C function is `uv_tcp_getsockname`.
    public var localAddress: SocketAddress {
        get throws(UVError) {
            checkThread()
            return try SocketAddress.reading("read local address") { uv_tcp_getsockname(tcp, $0, $1) }
        }
    }

    /// What went wrong accepting while nobody was there to be told (`connections` and `serve` skip
    /// failed accepts and go on): the number of failures.
    public var acceptFailures: Int {
        checkThread()
        return failures
    }

    /// The last accept failure (see `acceptFailures`).
    public var lastAcceptError: UVError? {
        checkThread()
        return lastFailure
    }

    private static let incoming: uv_connection_cb = { server, status in
        Handle.callback(server, as: TCPListener.self) { listener in
            switch uvResult(status, "accept", target: listener.addressText) {
            case .failure(let error):
                listener.acceptFailed(error)
            case .success:
                // Left un-accepted (nobody asked yet, or a pause is on), libuv stops watching the
                // socket until uv_accept: that is how the listener pushes back.
                listener.takeHeldConnection()
            }
        }
    }

    /// Hands every connection from now on (and every accept error) to `handler`, on the loop's thread.
    public func accept(_ handler: @escaping (AcceptResult) -> Void) {
        checkThread()
        guard lifecycle == .open else { return }
        onConnection = handler
        takeHeldConnection()
    }

    /// The queue behind `connections`; one that has ended already on a closed listener.
    func connectionQueue() -> ConnectionQueue {
        sequenceQueue(&accepted) {
            let queue = ConnectionQueue(listener: self)
            if onConnection != nil {
                queue.finish(.failure(UVError(
                    UV_EINVAL.rawValue, operation: "accept on", target: addressText,
                    detail: "this listener hands its connections to its accept handler")))
            }
            return queue
        }
    }

    private var wantsConnection: Bool {
        onConnection != nil || accepted?.hasWaiter == true
    }

    /// Accepts the connection libuv holds un-accepted, if there is one, somebody wants it and no pause
    /// is on: libuv does not call again (nor watch the socket) until it is taken.
    func takeHeldConnection() {
        if backoff?.isPausing != true, wantsConnection, uv_stream_t.hasHeldConnection(stream) { acceptPending() }
    }

    /// Takes the connection libuv has waiting and hands it to the handler or the waiting task.
    private func acceptPending() {
        let connection: TCPConnection
        do {
            connection = try TCPConnection(on: loop)
        } catch {
            return acceptFailed(error)
        }
        do {
            try uvCheck(uv_accept(stream, connection.stream), "accept", target: addressText)
        } catch {
            connection.close()
            return acceptFailed(error)
        }
        connection.didAccept()
        if let onConnection {
            onConnection(.success(connection))
        } else {
            accepted?.deliver(connection)
        }
    }

    /// Reports the error. When it means "out of descriptors", also pauses accepting:
    /// libuv would otherwise retry accept() at once, spinning a core and flooding the handler.
    private func acceptFailed(_ error: UVError) {
        failures += 1
        lastFailure = error
        if AcceptBackoff.isResourceShortage(error) && lifecycle == .open {
            if backoff == nil { backoff = AcceptBackoff(loop: loop, initial: Self.initialBackoff, maximum: Self.maximumBackoff) }
            let firstReport = backoff!.pause { [unowned self] in self.resumeAccepting() }
            if firstReport { onConnection?(.failure(error)) }
        } else {
            onConnection?(.failure(error))
        }
    }

    /// After a pause: once descriptors are free again, take what waited (uv_accept also restarts
    /// watching) — but only for someone who wants it; otherwise it waits on, and libuv with it.
    private func resumeAccepting() {
        guard lifecycle == .open, let backoff else { return }
        guard backoff.resourcesAvailable() else {
            backoff.pauseAgain { [unowned self] in self.resumeAccepting() }
            return
        }
        backoff.resume()
        takeHeldConnection()
    }

    override func didEnter(_ state: State) {
        if state == .closing {
            backoff?.close()
            backoff = nil
            accepted?.finish(.success(()))
        }
        if state == .closed { onConnection = nil }
        super.didEnter(state)
    }
}

/// The connections waiting for `TCPListener.connections`: accepted only while a consumer waits, and
/// handed straight to it, so a consumer that lags leaves the rest in the kernel's backlog.
final class ConnectionQueue: ConsumerQueue<TCPConnection>, @unchecked Sendable {  // ConsumerQueue's rule: loop thread only
    /// Weak: the listener owns its queue; the queue only asks it to accept.
    private weak var listener: TCPListener?

    init(listener: TCPListener) {
        self.listener = listener
        super.init(loop: listener.loop, operation: "accept on")
    }

    override func consumerWaits() {
        listener?.takeHeldConnection()
    }
}
