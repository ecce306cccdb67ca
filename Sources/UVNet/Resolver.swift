// Name resolution: host and service names to addresses (getaddrinfo), addresses back to names (getnameinfo).
import CUV
import Glibc

/// Resolves names on libuv's thread pool, completing on the loop's thread.
///
/// ```swift
/// Resolver.resolve(host: "localhost", service: "http", on: loop) { result in
///     print(try result.get())   // [[::1]:80, 127.0.0.1:80], in the system's order
/// }
/// ```
/// A numeric host (`127.0.0.1`, `::1`) with a numeric or named service needs no thread: it completes
/// before `resolve` returns.
public enum Resolver {
    /// Which address families to ask for.
    public enum Family: Sendable {
        case any, ipv4, ipv6

        var cValue: CInt {
            switch self {
            case .any: AF_UNSPEC
            case .ipv4: AF_INET
            case .ipv6: AF_INET6
            }
        }
    }

    /// Which socket type the answers are for; `.any` returns one entry per type the service has.
    public enum SocketType: Sendable, CustomStringConvertible {
        case any, stream, datagram, raw

        var cValue: CInt {
            switch self {
            case .any: 0
            case .stream: CInt(SOCK_STREAM.rawValue)
            case .datagram: CInt(SOCK_DGRAM.rawValue)
            case .raw: CInt(SOCK_RAW.rawValue)
            }
        }

        init(_ cValue: CInt) {
            switch cValue {
            case CInt(SOCK_STREAM.rawValue): self = .stream
            case CInt(SOCK_DGRAM.rawValue): self = .datagram
            case CInt(SOCK_RAW.rawValue): self = .raw
            default: self = .any
            }
        }

        /// `stream`, `datagram`, `raw` or `any`, as the seeds' getaddrinfo example prints them.
        public var description: String {
            switch self {
            case .any: "any"
            case .stream: "stream"
            case .datagram: "datagram"
            case .raw: "raw"
            }
        }
    }

    /// getaddrinfo's `AI_*` flags.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: CInt
        public init(rawValue: CInt) { self.rawValue = rawValue }
        /// Addresses to bind to (the wildcard when `host` is nil). `AI_PASSIVE`.
        public static let passive = Flags(rawValue: AI_PASSIVE)
        /// Only families this host has an address of. `AI_ADDRCONFIG`.
        public static let addressConfigured = Flags(rawValue: AI_ADDRCONFIG)
        /// Ask for the canonical name. `AI_CANONNAME`.
        public static let canonicalName = Flags(rawValue: AI_CANONNAME)
    }

    /// One answer of `lookup`.
    public struct Entry: Sendable, Hashable {
        /// The address, with the service's port.
        public let address: SocketAddress
        /// The socket type this answer is for.
        public let socketType: SocketType
    }

    /// An answer of `reverse`.
    public struct Name: Sendable, Hashable {
        /// The host's name (or, without `nameRequired`, its numeric address).
        public let host: String
        /// The port's service name (or number).
        public let service: String
    }

    /// Resolves `host` (and `service`, a port number or a name like `"http"`) to addresses, in the order
    /// the system gives, none dropped. Errors name the host: `.hostNotFound`, `.serviceNotFound`, ….
    /// The corresponding C function is `uv_getaddrinfo`.
    @discardableResult
    public static func resolve(
        host: String?, service: String? = nil, family: Family = .any, socketType: SocketType = .stream,
        flags: Flags = [], on loop: Loop, _ completion: @escaping (Result<[SocketAddress], UVError>) -> Void
    ) -> Request {
        lookup(host: host, service: service, family: family, socketType: socketType, flags: flags, on: loop) {
            completion($0.map { entries in entries.map(\.address) })
        }
    }

    /// Like `resolve`, with the socket type of each answer.
    @discardableResult
    public static func lookup(
        host: String?, service: String? = nil, family: Family = .any, socketType: SocketType = .stream,
        flags: Flags = [], on loop: Loop, _ completion: @escaping (Result<[Entry], UVError>) -> Void
    ) -> Request {
        loop.assertOnLoopThread()
        let request = Request(loop: loop, name: [host, service].compactMap { $0 }.joined(separator: ":"))
        if let host, let numeric = try? numericAnswer(host, service, family, socketType) {
            request.finish()
            completion(numeric)
            return request
        }
        request.startLookup(host: host, service: service, family: family, socketType: socketType, flags: flags, completion)
        return request
    }

    /// Finds the name of `address` (and of its port's service). With `nameRequired`, an address without
    /// a name is `.hostNotFound`; without it, the numeric address is the answer.
    /// The corresponding C function is `uv_getnameinfo`.
    @discardableResult
    public static func reverse(
        _ address: SocketAddress, nameRequired: Bool = false, on loop: Loop,
        _ completion: @escaping (Result<Name, UVError>) -> Void
    ) -> Request {
        loop.assertOnLoopThread()
        let request = Request(loop: loop, name: "\(address)")
        request.startReverse(address, flags: nameRequired ? NI_NAMEREQD : 0, completion)
        return request
    }

    /// The port of a service: a number in 0...65535 or a name from the services database.
    /// The corresponding C function is `getservbyname_r`.
    public static func port(ofService service: String, socketType: SocketType = .stream) throws(UVError) -> Int {
        if let number = Int(service) {
            guard (0...65535).contains(number) else {
                throw UVError(UV_EAI_SERVICE.rawValue, operation: "resolve service", target: service,
                              detail: "port \(number) is not in 0...65535")
            }
            return number
        }
        let proto = socketType == .datagram ? "udp" : "tcp"
        var entry = servent()
        var result: UnsafeMutablePointer<servent>?
        let found = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 1024) { buffer in
            getservbyname_r(service, proto, &entry, buffer.baseAddress, buffer.count, &result) == 0 && result != nil
        }
        guard found else { throw UVError(UV_EAI_SERVICE.rawValue, operation: "resolve service", target: service) }
        return Int(UInt16(bigEndian: UInt16(truncatingIfNeeded: entry.s_port)))
    }

    /// The answer for a numeric host, found without the thread pool; nil when `host` is a name.
    private static func numericAnswer(
        _ host: String, _ service: String?, _ family: Family, _ socketType: SocketType
    ) throws -> Result<[Entry], UVError>? {
        guard let address = try? SocketAddress(ip: host, port: 0) else { return nil }
        if family == .ipv4 && address.isIPv6 || family == .ipv6 && !address.isIPv6 {
            return .failure(UVError(UV_EAI_ADDRFAMILY.rawValue, operation: "resolve", target: host))
        }
        // The answers getaddrinfo would give: one per socket type asked for that the service exists for.
        let types: [SocketType] = socketType == .any ? [.stream, .datagram, .raw] : [socketType]
        var entries: [Entry] = []
        var lastError: UVError?
        for type in types {
            do {
                let port = try service.map { try self.port(ofService: $0, socketType: type) } ?? 0
                entries.append(Entry(address: try address.withPort(port), socketType: type))
            } catch let error as UVError {
                lastError = error
            }
        }
        if entries.isEmpty, let lastError { return .failure(lastError) }
        return .success(entries)
    }

    /// One resolution in flight. Hold it only to `cancel()` it.
    public final class Request: @unchecked Sendable {
        private let loop: Loop
        private let name: String
        private var raw: UnsafeMutableRawPointer?
        private var lookupCompletion: ((Result<[Entry], UVError>) -> Void)?
        private var reverseCompletion: ((Result<Name, UVError>) -> Void)?

        init(loop: Loop, name: String) {
            self.loop = loop
            self.name = name
        }

        /// True once the completion has run (or is running).
        public var isFinished: Bool { raw == nil }

        /// Cancels the request if it is still waiting for a thread: its completion then runs once with
        /// `.canceled`, and this returns true. A request already being resolved (or done) completes as
        /// usual, and this returns false. The corresponding C function is `uv_cancel`.
        @discardableResult
        public func cancel() -> Bool {
            loop.assertOnLoopThread()
            guard let raw else { return false }
            return uv_cancel(raw.assumingMemoryBound(to: uv_req_t.self)) == 0
        }

        func finish() {
            raw = nil
        }

        func startLookup(
            host: String?, service: String?, family: Family, socketType: SocketType, flags: Flags,
            _ completion: @escaping (Result<[Entry], UVError>) -> Void
        ) {
            let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
            var hints = addrinfo()
            hints.ai_family = family.cValue
            hints.ai_socktype = socketType.cValue
            hints.ai_flags = flags.rawValue
            request.pointee.data = Unmanaged.passRetained(self).toOpaque()
            lookupCompletion = completion
            raw = UnsafeMutableRawPointer(request)
            let rc = uv_getaddrinfo(loop.raw, request, Request.looked, host, service, &hints)
            if rc < 0 {
                Unmanaged.passUnretained(self).release()
                request.deallocate()
                finish()
                lookupCompletion = nil
                completion(.failure(error(rc, "resolve")))
            }
        }

        private static let looked: uv_getaddrinfo_cb = { request, status, answers in
            let this = Unmanaged<Request>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            defer { uv_freeaddrinfo(answers) }
            this.finish()
            let completion = this.lookupCompletion
            this.lookupCompletion = nil
            guard status == 0 else {
                completion?(.failure(this.error(status, "resolve")))
                return this.loop.jobs.drainIfNeeded(on: this.loop)
            }
            var entries: [Entry] = []
            var next = answers
            while let answer = next {
                if let sockaddr = answer.pointee.ai_addr, let address = SocketAddress(sockaddr) {
                    entries.append(Entry(address: address, socketType: SocketType(answer.pointee.ai_socktype)))
                }
                next = answer.pointee.ai_next
            }
            completion?(.success(entries))
            this.loop.jobs.drainIfNeeded(on: this.loop)
        }

        func startReverse(_ address: SocketAddress, flags: CInt, _ completion: @escaping (Result<Name, UVError>) -> Void) {
            let request = UnsafeMutablePointer<uv_getnameinfo_t>.allocate(capacity: 1)
            request.pointee.data = Unmanaged.passRetained(self).toOpaque()
            reverseCompletion = completion
            raw = UnsafeMutableRawPointer(request)
            let rc = address.withSockAddr { sockaddr, _ in
                uv_getnameinfo(loop.raw, request, Request.named, sockaddr, flags)
            }
            if rc < 0 {
                Unmanaged.passUnretained(self).release()
                request.deallocate()
                finish()
                reverseCompletion = nil
                completion(.failure(error(rc, "reverse-resolve")))
            }
        }

        private static let named: uv_getnameinfo_cb = { request, status, host, service in
            let this = Unmanaged<Request>.fromOpaque(request!.pointee.data).takeRetainedValue()
            let name = status == 0 ? Name(host: String(cString: host!), service: String(cString: service!)) : nil
            request!.deallocate()
            this.finish()
            let completion = this.reverseCompletion
            this.reverseCompletion = nil
            completion?(name.map { .success($0) } ?? .failure(this.error(status, "reverse-resolve")))
            this.loop.jobs.drainIfNeeded(on: this.loop)
        }

        /// A resolver error naming what was resolved; a cancel reads as `.canceled`, like everywhere else.
        private func error(_ status: CInt, _ operation: String) -> UVError {
            let code = status == UV_EAI_CANCELED.rawValue ? UV_ECANCELED.rawValue : status
            return UVError(code, operation: operation, target: name)
        }
    }
}
