// A listening TCP socket: what a stream listener is (StreamListener), plus binding an address with TCP's options.
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
public final class TCPListener: StreamListener, ConnectionListener, @unchecked Sendable {  // Handle's members check the loop's thread
    public typealias Connection = TCPConnection
    @_spi(StreamLayers) public var acceptedConnections = ConnectionQueueSlot<TCPConnection>()

    /// How the socket is bound.
    public struct Options: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `SO_REUSEPORT`: the kernel spreads one port's connections over listeners on several loops or processes.
        public static let reusePort = Options(rawValue: 1 << 0)
        /// For an IPv6 address: do not also accept IPv4 connections. Maps to `UV_TCP_IPV6ONLY`.
        public static let ipv6Only = Options(rawValue: 1 << 1)
    }

    /// What the handler receives: a new connection (already open, not yet reading) or an accept error.
    public typealias AcceptResult = Result<TCPConnection, UVError>

    /// Binds to `address` (port 0 picks a free port: read it back from `localAddress`) and listens. With
    /// `onConnection`, every connection (or accept error) goes to it; without, connections wait in the kernel until
    /// taken from `connections` (or `serve`). Throws `.addressInUse` naming the address when the port is taken. The
    /// corresponding C functions are `uv_tcp_init_ex`, `uv_tcp_bind` and `uv_listen`.
    public init(
        on loop: Loop,
        address: SocketAddress,
        options: Options = [],
        backlog: Int = 511,
        _ onConnection: ((AcceptResult) -> Void)? = nil
    ) throws(UVError) {
        try super.init(loop: loop, cType: uv_tcp_t.self, addressText: address.description)
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        // init_ex creates the socket now, so SO_REUSEPORT can be set before bind (libuv 1.44 has no flag for it).
        try uvCheck(uv_tcp_init_ex(loop.raw, tcp, UInt32(family)), "create listener", target: addressText)
        didOpen()
        if let onConnection { acceptEach(AcceptHandler(listener: self, make: { [unowned self] () throws(UVError) in try makeConnection() }, onConnection), takingNow: false) }
        do throws(UVError) {
            try configureAndListen(address, options: options, backlog: backlog)
        } catch {
            close()
            throw error
        }
    }

    /// Binds by hand rather than with `uv_tcp_bind`, which defers a port in use to `uv_listen`: the
    /// socket listens in the kernel at once, while libuv watches it only once someone wants a connection.
    private func configureAndListen(_ address: SocketAddress, options: Options, backlog: Int) throws(UVError) {
        let socket = try descriptor("bind")
        try setOption(socket, SOL_SOCKET, SO_REUSEADDR, "set SO_REUSEADDR")
        if options.contains(.reusePort) { try setOption(socket, SOL_SOCKET, SO_REUSEPORT, "set SO_REUSEPORT") }
        if options.contains(.ipv6Only) { try setOption(socket, CInt(IPPROTO_IPV6), IPV6_V6ONLY, "set IPV6_V6ONLY") }
        try posixCheck(address.withSockAddr { Glibc.bind(socket, $0, $1) }, "bind", target: addressText)
        try listen(backlog: backlog)
    }

    private func setOption(_ socket: CInt, _ level: CInt, _ name: CInt, _ operation: String) throws(UVError) {
        var on: CInt = 1
        try posixCheck(setsockopt(socket, level, name, &on, socklen_t(MemoryLayout<CInt>.size)), operation, target: addressText)
    }

    /// Takes over `descriptor`, a listening TCP socket this process already has (one from `duplicateDescriptor()` of a
    /// listener on another loop, or one a parent process passed down): a second listener on the same socket, to accept
    /// on this loop too. It owns the descriptor from now on. The corresponding C function is `uv_tcp_open`.
    public init(adopting descriptor: CInt, on loop: Loop, backlog: Int = 511) throws(UVError) {
        let operation = "take over a listening socket"
        try super.init(loop: loop, cType: uv_tcp_t.self, addressText: "descriptor \(descriptor)")
        try uvCheck(uv_tcp_init(loop.raw, tcp), operation, target: addressText)
        didOpen()
        do throws(UVError) {
            do {
                try uvCheck(uv_tcp_open(tcp, descriptor), operation, target: addressText)
            } catch {
                Glibc.close(descriptor)  // promised to the listener, which could not take it
                throw error
            }
            let isListening = try uvCheck(cuv_is_listening(descriptor), operation, target: addressText)
            guard isListening == 1 else {
                throw UVError(UV_EINVAL.rawValue, operation: operation, target: addressText, detail: "the socket is not listening")
            }
            try listen(backlog: backlog)
        } catch {
            close()
            throw error
        }
    }

    @_spi(StreamLayers) public func makeConnection() throws(UVError) -> TCPConnection {
        try TCPConnection(on: loop)
    }

    private var tcp: UnsafeMutablePointer<uv_tcp_t> {
        rawHandle.cast(to: uv_tcp_t.self)
    }

    /// The bound address, with its real port. The corresponding C function is `uv_tcp_getsockname`.
    public var localAddress: SocketAddress {
        get throws(UVError) {
            checkThread()
            return try SocketAddress.reading("read local address") { uv_tcp_getsockname(tcp, $0, $1) }
        }
    }

}
