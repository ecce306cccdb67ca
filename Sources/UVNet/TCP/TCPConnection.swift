// A TCP connection: a StreamConnection, plus connecting to addresses and host names, TCP's options and names, an RST.
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
public final class TCPConnection: StreamConnection, @unchecked Sendable {  // Handle's members check the loop's thread
    /// Creates an unconnected TCP handle. The corresponding C function is `uv_tcp_init`.
    public init(on loop: Loop) throws(UVError) {
        try super.init(loop: loop, cType: uv_tcp_t.self, operation: "create TCP connection")
        try uvCheck(uv_tcp_init(loop.raw, tcp), "create TCP connection")
        // Nagle's algorithm off, for the socket libuv makes when this connects or is accepted: a small
        // write that follows another (TLS's records, a reply's head then its body) would otherwise
        // wait for the peer's delayed ACK, 40 ms. (Seen as 220 TLS handshakes a second against C's
        // 1,600.) Go and SwiftNIO decide the same. With no socket yet, libuv only notes it: it cannot fail.
        uvRequire(uv_tcp_nodelay(tcp, 1), "set TCP_NODELAY")
        didOpen()
    }

    var tcp: UnsafeMutablePointer<uv_tcp_t> {
        rawHandle.cast(to: uv_tcp_t.self)
    }

    // MARK: Connecting

    /// Connects to `address`. `completion` runs once: `.success`, or an error naming the address
    /// (`.connectionRefused`, or `.canceled` when the connection is closed first). Throws, without calling
    /// `completion`, when the connect cannot even start. The corresponding C function is `uv_tcp_connect`.
    public func connect(to address: SocketAddress, _ completion: @escaping Completion) throws(UVError) {
        checkThread()
        try connect(to: address.description, completion) { () throws(UVError) in
            let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
            do throws(UVError) {
                try uvCheck(
                    address.withSockAddr { sockaddr, _ in uv_tcp_connect(request, tcp, sockaddr, TCPConnection.connected) },
                    "connect to", target: address.description)
            } catch {
                request.deallocate()
                throw error
            }
        }
    }

    private static let connected: uv_connect_cb = { request, status in
        let handle = request!.pointee.handle
        request!.deallocate()
        Handle.callback(handle, as: TCPConnection.self) { connection in
            connection.finishConnect(uvResult(status, "connect to", target: connection.peerName))
        }
    }

    /// Connects to `host` as RFC 8305 (Happy Eyeballs v2) has it: the IPv6 and IPv4 lookups raced (IPv4's answer waits
    /// `ConnectAttempt.resolutionDelay` for IPv6's), the addresses interleaved by family, a new attempt every
    /// `attemptDelay` while earlier ones are pending (at once when one fails; a late answer's addresses join too), the
    /// first to connect wins, the rest closed at once. So a first address that drops SYNs costs `attemptDelay`, not
    /// the kernel's minutes-long timeout. `attemptDelay` is kept within `ConnectAttempt.attemptDelays`, 100 ms to 2 s.
    /// `completion` runs once: with the connection, the error (of the one address, naming each address and why, or of
    /// resolving), or `.canceled` after `cancel()` on the returned attempt.
    @discardableResult
    public static func connect(
        host: String, port: Int, on loop: Loop, attemptDelay: Duration = ConnectAttempt.defaultAttemptDelay,
        _ completion: @escaping (Result<TCPConnection, UVError>) -> Void
    ) -> ConnectAttempt {
        // An address needs no lookup, and no race.
        if let address = try? SocketAddress(ip: host, port: port) {
            return connect(toAnyOf: [address], on: loop, attemptDelay: attemptDelay, completion)
        }
        let attempt = ConnectAttempt(
            target: "\(host):\(port)", awaiting: [.ipv6, .ipv4], attemptDelay: attemptDelay, on: loop, completion)
        attempt.start(resolving: host, port: port)
        return attempt
    }

    /// Connects to the first of `addresses` to answer, racing them in their order as
    /// `connect(host:port:on:attemptDelay:_:)` does once it has resolved.
    @discardableResult
    public static func connect(
        toAnyOf addresses: [SocketAddress], on loop: Loop, attemptDelay: Duration = ConnectAttempt.defaultAttemptDelay,
        _ completion: @escaping (Result<TCPConnection, UVError>) -> Void
    ) -> ConnectAttempt {
        let target = addresses.map(\.description).joined(separator: ", ")
        let attempt = ConnectAttempt(target: target, awaiting: [.any], attemptDelay: attemptDelay, on: loop, completion)
        attempt.start(racing: addresses)
        return attempt
    }

    /// Remembers the peer of an accepted connection (for error messages).
    override func didAccept() {
        peerName = (try? remoteAddress)?.description
    }

    /// Sends an RST instead of a FIN; a plain close while a shutdown is pending. The corresponding C
    /// function is `uv_tcp_close_reset`.
    override public func closeWithReset(_ completion: (() -> Void)? = nil) {
        checkThread()
        beginClosing(completion) { handle, closed in
            if !uvSucceeded(uv_tcp_close_reset(handle.cast(to: uv_tcp_t.self), closed)) { uv_close(handle, closed) }
        }
    }

    // MARK: Options and names

    /// Turns Nagle's algorithm off (true, as every connection starts) or on (false: small writes wait to be coalesced
    /// while earlier bytes are unacknowledged). The corresponding C function is `uv_tcp_nodelay`.
    public func setNoDelay(_ enabled: Bool) throws(UVError) {
        try perform("set TCP_NODELAY", target: peerName) { uv_tcp_nodelay(tcp, enabled ? 1 : 0) }
    }

    /// Turns TCP keep-alive on, the first probe going out after the connection has been idle for
    /// `idle` (whole seconds, at least one), or off with nil: how a server learns that a silent peer
    /// is gone. The corresponding C function is `uv_tcp_keepalive`.
    public func setKeepAlive(after idle: Duration?) throws(UVError) {
        let seconds = idle.map { max(1, min($0.components.seconds, Int64(UInt32.max))) } ?? 0
        try perform("set SO_KEEPALIVE", target: peerName) { uv_tcp_keepalive(tcp, idle == nil ? 0 : 1, UInt32(seconds)) }
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
