// An IPv4 or IPv6 socket address as a Swift value: parse, format, compare, and hand to C.
import CUV

/// An IPv4 or IPv6 address with a port.
///
/// ```swift
/// let address = try SocketAddress(ip: "127.0.0.1", port: 9000)
/// print(address)            // 127.0.0.1:9000
/// print(try SocketAddress(ip: "::1", port: 80))   // [::1]:80
/// ```
public enum SocketAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4)
    case v6(IPv6)

    /// An IPv4 address and port, stored as the C `sockaddr_in` libuv takes.
    public struct IPv4: Hashable, Sendable {
        var storage: sockaddr_in

        /// Equal when the address bytes are.
        public static func == (lhs: IPv4, rhs: IPv4) -> Bool {
            lhs.storage.sin_port == rhs.storage.sin_port
                && lhs.storage.sin_addr.s_addr == rhs.storage.sin_addr.s_addr
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(storage.sin_port)
            hasher.combine(storage.sin_addr.s_addr)
        }
    }

    /// An IPv6 address, port and scope, stored as the C `sockaddr_in6` libuv takes.
    public struct IPv6: Hashable, Sendable {
        var storage: sockaddr_in6

        /// Equal when the address bytes are.
        public static func == (lhs: IPv6, rhs: IPv6) -> Bool {
            lhs.storage.sin6_port == rhs.storage.sin6_port
                && lhs.storage.sin6_scope_id == rhs.storage.sin6_scope_id
                && lhs.addressBytes == rhs.addressBytes
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(storage.sin6_port)
            hasher.combine(storage.sin6_scope_id)
            withUnsafeBytes(of: storage.sin6_addr) { hasher.combine(bytes: $0) }
        }

        private var addressBytes: [UInt8] {
            withUnsafeBytes(of: storage.sin6_addr) { Array($0) }
        }
    }

    /// Parses a numeric IPv4 or IPv6 address (no host names; use `Resolver` for those).
    ///
    /// IPv6 text may carry brackets (`[::1]`) and a scope (`fe80::1%eth0`).
    /// Throws `UVError.invalidArgument` naming the text when it is not an address or the port is not in 0...65535.
    /// The corresponding C functions are `uv_ip4_addr` and `uv_ip6_addr`.
    public init(ip: String, port: Int) throws(UVError) {
        guard (0...65535).contains(port) else {
            throw UVError(
                UV_EINVAL.rawValue, operation: "parse address", target: ip,
                detail: "port \(port) is not in 0...65535")
        }
        var text = Substring(ip)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        let host = String(text)
        if !host.contains(":") {
            var v4 = sockaddr_in()
            if uvSucceeded(uv_ip4_addr(host, CInt(port), &v4)) {
                self = .v4(IPv4(storage: v4))
                return
            }
        } else {
            var v6 = sockaddr_in6()
            if uvSucceeded(uv_ip6_addr(host, CInt(port), &v6)) {
                self = .v6(IPv6(storage: v6))
                return
            }
        }
        throw UVError(
            UV_EINVAL.rawValue, operation: "parse address", target: "'\(ip)'",
            detail: "not a numeric IPv4 or IPv6 address")
    }

    /// Parses `HOST:PORT`, where an IPv6 host is in brackets: `127.0.0.1:80`, `[::1]:8080`.
    public init(parsing text: String) throws(UVError) {
        guard let colon = text.lastIndex(of: ":"),
            let port = Int(text[text.index(after: colon)...]),
            text[..<colon].contains(":") == text[..<colon].hasPrefix("[")
        else {
            throw UVError(
                UV_EINVAL.rawValue, operation: "parse address", target: "'\(text)'",
                detail: "expected HOST:PORT, with an IPv6 host in brackets")
        }
        try self.init(ip: String(text[..<colon]), port: port)
    }

    /// The port, in host byte order.
    public var port: Int {
        switch self {
        case .v4(let a): Int(UInt16(bigEndian: a.storage.sin_port))
        case .v6(let a): Int(UInt16(bigEndian: a.storage.sin6_port))
        }
    }

    /// The same address with another port.
    public func withPort(_ port: Int) throws(UVError) -> SocketAddress {
        guard (0...65535).contains(port) else {
            throw UVError(
                UV_EINVAL.rawValue, operation: "set port", target: ipAddress,
                detail: "port \(port) is not in 0...65535")
        }
        switch self {
        case .v4(var a):
            a.storage.sin_port = UInt16(port).bigEndian
            return .v4(a)
        case .v6(var a):
            a.storage.sin6_port = UInt16(port).bigEndian
            return .v6(a)
        }
    }

    /// The address alone as text, without port or brackets: `127.0.0.1`, `::1`.
    /// The corresponding C functions are `uv_ip4_name` and `uv_ip6_name`.
    public var ipAddress: String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let rc: CInt =
                switch self {
                case .v4(var a): uv_ip4_name(&a.storage, buffer.baseAddress, buffer.count)
                case .v6(var a): uv_ip6_name(&a.storage, buffer.baseAddress, buffer.count)
                }
            return uvSucceeded(rc) ? String(cString: buffer.baseAddress!) : "?"
        }
    }

    /// True for `.v6`.
    public var isIPv6: Bool {
        if case .v6 = self { return true }
        return false
    }

    /// `127.0.0.1:9000` or `[::1]:9000`.
    public var description: String {
        isIPv6 ? "[\(ipAddress)]:\(port)" : "\(ipAddress):\(port)"
    }

    /// Calls `body` with the C form of the address; the pointer is valid only inside `body`.
    public func withSockAddr<Result>(
        _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result
    ) rethrows -> Result {
        switch self {
        case .v4(let a): return try Self.withSockAddr(of: a.storage, body)
        case .v6(let a): return try Self.withSockAddr(of: a.storage, body)
        }
    }

    /// `storage`, a `sockaddr_in` or a `sockaddr_in6`, as the `sockaddr` pointer and length C takes.
    private static func withSockAddr<Storage, Result>(
        of storage: Storage, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Result
    ) rethrows -> Result {
        try withUnsafePointer(to: storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body($0, socklen_t(MemoryLayout<Storage>.size))
            }
        }
    }

    /// Reads an address libuv or the kernel filled in; nil for families other than IPv4 and IPv6.
    init?(_ pointer: UnsafePointer<sockaddr>) {
        switch CInt(pointer.pointee.sa_family) {
        case AF_INET:
            self = pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { .v4(IPv4(storage: $0.pointee)) }
        case AF_INET6:
            self = pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { .v6(IPv6(storage: $0.pointee)) }
        default:
            return nil
        }
    }

    /// Fills a `sockaddr_storage` with `fill` (e.g. `uv_tcp_getsockname`) and reads it back.
    static func reading(
        _ operation: String, _ fill: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<CInt>) -> CInt
    ) throws(UVError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = CInt(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { fill($0, &length) }
        }
        try uvCheck(rc, operation)
        let address = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0) }
        }
        guard let address else { throw UVError.addressFamilyNotSupported.during(operation) }
        return address
    }
}
