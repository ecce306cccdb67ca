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
public final class TCPListener: Handle, @unchecked Sendable {
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
    /// A task waiting in `connections` for the next connection.
    private var waiter: Wake<TCPConnection?>?
    private let addressText: String
    private var backoff: AcceptBackoff?
    /// What went wrong accepting while nobody was there to be told (the async `connections` skip
    /// failed accepts and go on): the number of failures and the last one.
    public private(set) var acceptFailures = 0
    public private(set) var lastAcceptError: UVError?

    /// Binds to `address` (port 0 picks a free port: read it back from `localAddress`) and listens.
    /// With `onConnection`, every connection (or accept error) goes to it; without, connections wait
    /// in the kernel until taken from `connections`.
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
        super.init(loop: loop, cType: uv_tcp_t.self)
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
            try SocketAddress.reading("read local address") { uv_tcp_getsockname(tcp, $0, $1) }
        }
    }

    private static let incoming: uv_connection_cb = { server, status in
        Handle.callback(server, as: TCPListener.self) { listener in
            if status < 0 {
                listener.acceptFailed(status)
            } else {
                // Left un-accepted (nobody asked yet, or a pause is on), libuv stops watching the
                // socket until uv_accept: that is how the listener pushes back.
                listener.takeHeldConnection()
            }
        }
    }

    /// Hands every connection from now on (and every accept error) to `handler`, on the loop's thread.
    public func accept(_ handler: @escaping (AcceptResult) -> Void) {
        loop.assertOnLoopThread()
        guard state == .open else { return }
        onConnection = handler
        takeHeldConnection()
    }

    private var wantsConnection: Bool {
        onConnection != nil || waiter != nil
    }

    /// Accepts the connection libuv holds un-accepted, if there is one, somebody wants it and no pause
    /// is on: libuv does not call again (nor watch the socket) until it is taken.
    private func takeHeldConnection() {
        if backoff?.isPausing != true, wantsConnection, uv_stream_t.hasHeldConnection(stream) { acceptPending() }
    }

    /// Takes the connection libuv has waiting and hands it to the handler or the waiting task.
    private func acceptPending() {
        let connection: TCPConnection
        do {
            connection = try TCPConnection(on: loop)
        } catch {
            return acceptFailed(error.rawValue)
        }
        let rc = uv_accept(stream, connection.stream)
        guard rc == 0 else {
            connection.close()
            return acceptFailed(rc)
        }
        connection.didAccept()
        if let onConnection {
            onConnection(.success(connection))
        } else if let waiter {
            self.waiter = nil
            waiter.resume(.success(connection))
        }
    }

    /// Waits for the next connection (for `connections`); nil once the listener is closed.
    func nextConnection() async throws -> TCPConnection? {
        try await loop.suspend(
            start: { [self] wake in
                guard state == .open else { return wake.resume(.success(nil)) }
                waiter = wake
                takeHeldConnection()
            },
            cancel: { [self] wake in
                waiter = nil
                wake.resume(.failure(CancellationError()))
            })
    }

    /// Reports the error. When it means "out of descriptors or memory", also pauses accepting:
    /// libuv would otherwise retry accept() at once, spinning a core and flooding the handler.
    private func acceptFailed(_ code: CInt) {
        let error = UVError(code, operation: "accept", target: addressText)
        acceptFailures += 1
        lastAcceptError = error
        if AcceptBackoff.isResourceShortage(error) && state == .open {
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
        guard state == .open, let backoff else { return }
        guard backoff.resourcesAvailable() else {
            backoff.pauseAgain { [unowned self] in self.resumeAccepting() }
            return
        }
        backoff.resume()
        takeHeldConnection()
    }

    override func willClose() {
        backoff?.close()
        backoff = nil
        let waiter = waiter
        self.waiter = nil
        waiter?.resume(.success(nil))
    }

    override func didClose() {
        onConnection = nil
    }
}
