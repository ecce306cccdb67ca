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
/// A numeric host (`127.0.0.1`, `::1`) with a numeric service (or none) needs no thread: it completes before `resolve`
/// returns. A service name goes to the thread pool too: the services database is a file (or NSS) that may block.
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

    /// Resolves `host` (and `service`, `"443"` or `"http"`) to all its addresses, in the system's order. Errors name
    /// the host: `.hostNotFound`, `.serviceNotFound`, …. The corresponding C function is `uv_getaddrinfo`.
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
        loop.checkOnLoopThread("Resolver.lookup(host:service:family:socketType:flags:on:_:)")
        let request = Request(loop: loop, name: [host, service].compactMap { $0 }.joined(separator: ":"))
        guard request.isAccepted("resolve", else: completion) else { return request }
        if let host, let numeric = numericAnswer(host, service, family, socketType) {
            completion(numeric)
            return request
        }
        request.startLookup(host: host, service: service, family: family, socketType: socketType, flags: flags, completion)
        return request
    }

    /// Finds the name of `address` and of its port's service. With `nameRequired`, a nameless address is
    /// `.hostNotFound`; else the numeric address is the answer. The corresponding C function is `uv_getnameinfo`.
    @discardableResult
    public static func reverse(
        _ address: SocketAddress, nameRequired: Bool = false, on loop: Loop,
        _ completion: @escaping (Result<Name, UVError>) -> Void
    ) -> Request {
        loop.checkOnLoopThread("Resolver.reverse(_:nameRequired:on:_:)")
        let request = Request(loop: loop, name: "\(address)")
        guard request.isAccepted("reverse-resolve", else: completion) else { return request }
        request.startReverse(address, flags: nameRequired ? NI_NAMEREQD : 0, completion)
        return request
    }

    /// The port of a service: a number in 0...65535 or a name from the services database. A name is looked up in a
    /// file (or through NSS), which may block: not for a loop's thread, where `resolve(host:service:…)` finds the port
    /// on the thread pool instead. The corresponding C function is `getservbyname_r`.
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
            posixSucceeded(getservbyname_r(service, proto, &entry, buffer.baseAddress, buffer.count, &result)) && result != nil
        }
        guard found else { throw UVError(UV_EAI_SERVICE.rawValue, operation: "resolve service", target: service) }
        return Int(UInt16(bigEndian: UInt16(truncatingIfNeeded: entry.s_port)))
    }

    /// The answer for a numeric host and service (or none), found without the thread pool; nil when either is a name.
    private static func numericAnswer(
        _ host: String, _ service: String?, _ family: Family, _ socketType: SocketType
    ) -> Result<[Entry], UVError>? {
        guard let address = try? SocketAddress(ip: host, port: 0) else { return nil }
        if let service, Int(service) == nil { return nil }
        if family == .ipv4 && address.isIPv6 || family == .ipv6 && !address.isIPv6 {
            return .failure(UVError(UV_EAI_ADDRFAMILY.rawValue, operation: "resolve", target: host))
        }
        // The answers getaddrinfo would give: one per socket type asked for that the service exists for.
        let types: [SocketType] = socketType == .any ? [.stream, .datagram, .raw] : [socketType]
        var entries: [Entry] = []
        var lastError: UVError?
        for type in types {
            do throws(UVError) {
                let port = try service.map { (service) throws(UVError) in try self.port(ofService: service, socketType: type) } ?? 0
                entries.append(Entry(address: try address.withPort(port), socketType: type))
            } catch {
                lastError = error
            }
        }
        if entries.isEmpty, let lastError { return .failure(lastError) }
        return .success(entries)
    }

    /// One resolution in flight. Hold it only to `cancel()` it.
    public final class Request: @unchecked Sendable {  // every member checks the loop's thread
        typealias Completion<Answer> = (Result<Answer, UVError>) -> Void

        private let loop: Loop
        private let name: String
        private var raw: UnsafeMutableRawPointer?
        private var lookupCompletion: Completion<[Entry]>?
        private var reverseCompletion: Completion<Name>?

        init(loop: Loop, name: String) {
            self.loop = loop
            self.name = name
        }

        /// True once the completion has run (or is running).
        public var isFinished: Bool {
            loop.checkOnLoopThread("Resolver.Request.isFinished")
            return raw == nil
        }

        /// Cancels the request if it is still waiting for a thread: its completion then runs once with
        /// `.canceled`, and this returns true. A request already being resolved (or done) completes as
        /// usual, and this returns false. The corresponding C function is `uv_cancel`.
        @discardableResult
        public func cancel() -> Bool {
            loop.checkOnLoopThread("Resolver.Request.cancel()")
            guard let raw else { return false }
            return uvSucceeded(uv_cancel(raw.assumingMemoryBound(to: uv_req_t.self)))
        }

        func finish() {
            if raw != nil { loop.resolutions.remove(self) }
            raw = nil
        }

        /// True when the loop takes requests; on a closed one, `completion` has failed with `.loopClosed`.
        fileprivate func isAccepted<Answer>(_ operation: String, else completion: Completion<Answer>) -> Bool {
            if loop.acceptsHandles { return true }
            completion(.failure(UVError.loopClosed.during(operation, target: name)))
            return false
        }

        /// Hands `request` (its `data` retains this) to libuv with `call`, `completion` waiting in `stored`. A failing
        /// call has no callback (libuv's rule): it is undone at once and `completion` gets the error.
        private func submit<CRequest, Answer>(
            _ request: UnsafeMutablePointer<CRequest>, _ operation: String, _ completion: @escaping Completion<Answer>,
            storedIn stored: ReferenceWritableKeyPath<Request, Completion<Answer>?>, _ call: () -> CInt
        ) {
            self[keyPath: stored] = completion
            raw = UnsafeMutableRawPointer(request)
            loop.resolutions.add(self)  // so that `Loop.close` cancels it while it waits for a thread
            do {
                try uvCheck(call(), operation, target: name)
            } catch {
                Unmanaged.passUnretained(self).release()
                request.deallocate()
                finish()
                self[keyPath: stored].take()?(.failure(error))
            }
        }

        func startLookup(
            host: String?, service: String?, family: Family, socketType: SocketType, flags: Flags,
            _ completion: @escaping Completion<[Entry]>
        ) {
            let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
            var hints = addrinfo()
            hints.ai_family = family.cValue
            hints.ai_socktype = socketType.cValue
            hints.ai_flags = flags.rawValue
            request.pointee.data = Unmanaged.passRetained(self).toOpaque()
            submit(request, "resolve", completion, storedIn: \.lookupCompletion) {
                uv_getaddrinfo(loop.raw, request, Request.looked, host, service, &hints)
            }
        }

        private static let looked: uv_getaddrinfo_cb = { request, status, answers in
            let this = Unmanaged<Request>.fromOpaque(request!.pointee.data).takeRetainedValue()
            request!.deallocate()
            defer { uv_freeaddrinfo(answers) }
            this.finish()
            let completion = this.lookupCompletion.take()
            defer { this.loop.jobs.drainIfNeeded() }
            if case .failure(let error) = this.outcome(status, "resolve") {
                completion?(.failure(error))
                return
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
        }

        func startReverse(_ address: SocketAddress, flags: CInt, _ completion: @escaping Completion<Name>) {
            let request = UnsafeMutablePointer<uv_getnameinfo_t>.allocate(capacity: 1)
            request.pointee.data = Unmanaged.passRetained(self).toOpaque()
            submit(request, "reverse-resolve", completion, storedIn: \.reverseCompletion) {
                address.withSockAddr { sockaddr, _ in
                    uv_getnameinfo(loop.raw, request, Request.named, sockaddr, flags)
                }
            }
        }

        private static let named: uv_getnameinfo_cb = { request, status, host, service in
            let this = Unmanaged<Request>.fromOpaque(request!.pointee.data).takeRetainedValue()
            let answer = this.outcome(status, "reverse-resolve").map {
                Name(host: String(cString: host!), service: String(cString: service!))
            }
            request!.deallocate()
            this.finish()
            this.reverseCompletion.take()?(answer)
            this.loop.jobs.drainIfNeeded()
        }

        /// The status of a finished request, naming what was resolved; a cancel reads as `.canceled`,
        /// like everywhere else (libuv says `UV_EAI_CANCELED` here).
        private func outcome(_ status: CInt, _ operation: String) -> Result<Void, UVError> {
            uvResult(status, operation, target: name).mapError { error in
                error == UVError(rawValue: UV_EAI_CANCELED.rawValue) ? UVError.canceled.during(operation, target: name) : error
            }
        }
    }
}

extension Resolver {
    /// Resolves `host` (and `service`) to addresses; see the callback form. With `timeout`, a lookup that has no
    /// answer by then ends with `.timedOut` naming the host (a DNS server that does not answer holds a thread-pool
    /// thread for as long as the system's resolver waits, which is `timeout:5 attempts:2` per server by default).
    /// Canceling the task, or the timeout, ends the wait at once and cancels the request if it is still queued; one
    /// already running on the thread pool finishes there, and its answer is dropped.
    public static func resolve(
        host: String?, service: String? = nil, family: Family = .any, socketType: SocketType = .stream,
        flags: Flags = [], on loop: Loop, timeout: Duration? = nil
    ) async throws -> [SocketAddress] {
        try await lookup(host: host, service: service, family: family, socketType: socketType, flags: flags, on: loop, timeout: timeout)
            .map(\.address)
    }

    /// Like `resolve(host:…:timeout:)`, with the socket type of each answer.
    public static func lookup(
        host: String?, service: String? = nil, family: Family = .any, socketType: SocketType = .stream,
        flags: Flags = [], on loop: Loop, timeout: Duration? = nil
    ) async throws -> [Entry] {
        let name = [host, service].compactMap { $0 }.joined(separator: ":")
        return try await answer(on: loop, timeout: timeout, "resolve", target: name) {
            lookup(host: host, service: service, family: family, socketType: socketType, flags: flags, on: loop, $0)
        }
    }

    /// Finds the name of `address`; see the callback form. `timeout` and cancellation as for
    /// `resolve(host:…:timeout:)`.
    public static func reverse(
        _ address: SocketAddress, nameRequired: Bool = false, on loop: Loop, timeout: Duration? = nil
    ) async throws -> Name {
        try await answer(on: loop, timeout: timeout, "reverse-resolve", target: "\(address)") {
            reverse(address, nameRequired: nameRequired, on: loop, $0)
        }
    }

    /// Awaits the answer to the request `start` makes on the loop's thread; a timeout or canceled task cancels it.
    private static func answer<Answer: Sendable>(
        on loop: Loop, timeout: Duration?, _ operation: String, target: String,
        _ start: @escaping @Sendable (@escaping Request.Completion<Answer>) -> Request
    ) async throws -> Answer {
        let pending = LoopBound<Request?>(nil, on: loop)
        return try await loop.suspend(
            timeout: timeout.map {
                Timeout($0, operation: operation, target: { target }, detail: "no answer within \($0)")
            },
            { wake in pending.value = start { wake.resume($0.mapError { $0 }) } },
            abandon: { pending.value?.cancel() })
    }
}

/// The resolutions in flight on one loop: closing the loop cancels those still waiting for a thread.
struct ResolutionsInFlight {
    private var requests: [ObjectIdentifier: Resolver.Request] = [:]

    mutating func add(_ request: Resolver.Request) {
        requests[ObjectIdentifier(request)] = request
    }

    mutating func remove(_ request: Resolver.Request) {
        requests.removeValue(forKey: ObjectIdentifier(request))
    }

    /// Cancels every request still queued; those already running finish (their answers are reported).
    func cancelAll() {
        for request in requests.values { request.cancel() }
    }
}
