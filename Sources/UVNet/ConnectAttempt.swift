// A connect by host name under way, as RFC 8305 (Happy Eyeballs v2) has it: the IPv6 and IPv4 lookups
// raced, the addresses interleaved by family, a new attempt every so often while earlier ones are still
// pending, the first to connect wins and every other is closed at once. Cancellable at any point.
import CUV

/// What `TCPConnection.connect(host:port:on:_:)` and `connect(toAnyOf:on:_:)` return: hold it only to
/// `cancel()` the connect. Canceling stops whatever is under way at once (the lookups, every attempt in
/// flight, whose sockets are closed) and completes the connect with `.canceled`.
public final class ConnectAttempt: @unchecked Sendable {  // every member checks the loop's thread
    /// How long a connect by name waits for the IPv6 answer once the IPv4 one is in (RFC 8305 §3).
    public static let resolutionDelay: Duration = .milliseconds(50)
    /// How long an attempt has on its own before the next address is tried beside it (RFC 8305 §5).
    public static let defaultAttemptDelay: Duration = .milliseconds(250)

    /// The loop the connect runs on.
    public let loop: Loop
    /// Whom errors name: `host:port`, or the addresses raced.
    private let target: String
    private let port: Int
    private let attemptDelay: Duration
    private var completion: ((Result<TCPConnection, UVError>) -> Void)?

    /// The lookups still running, by family.
    private var lookups: [Resolver.Family: Resolver.Request] = [:]
    /// What each family's lookup answered, once it has.
    private var answers: [Resolver.Family: Result<[SocketAddress], UVError>] = [:]
    private var hasBegun = false
    /// Addresses not tried yet, in the order they will be.
    private var untried: [SocketAddress] = []
    private var inFlight: [ObjectIdentifier: TCPConnection] = [:]
    private var failures: [(address: SocketAddress, error: UVError)] = []
    /// Fires the next attempt (or, before the first, the end of the resolution delay).
    private var timer: Timer?

    init(target: String, port: Int, attemptDelay: Duration, on loop: Loop, _ completion: @escaping (Result<TCPConnection, UVError>) -> Void) {
        self.loop = loop
        self.target = target
        self.port = port
        self.attemptDelay = attemptDelay
        self.completion = completion
    }

    /// True once the completion has run.
    public var isFinished: Bool {
        loop.checkOnLoopThread("ConnectAttempt.isFinished")
        return completion == nil
    }

    /// Stops the connect and completes it with `.canceled`; does nothing once it has completed.
    /// The corresponding C functions are `uv_cancel` (for the lookups) and `uv_close`.
    public func cancel() {
        loop.checkOnLoopThread("ConnectAttempt.cancel()")
        guard completion != nil else { return }
        finish(.failure(UVError.canceled.during("connect to", target: target)))
    }

    // MARK: Resolving

    /// Looks up both families at once; connecting begins with the IPv6 answer, or the IPv4 one
    /// `resolutionDelay` after it if IPv6 has not answered by then.
    func start(resolving host: String) {
        loop.checkOnLoopThread("TCPConnection.connect(host:port:on:_:)")
        // An address needs no lookup, and no race.
        if let address = try? SocketAddress(ip: host, port: port) { return start(racing: [address]) }
        for family in [Resolver.Family.ipv6, .ipv4] {
            let request = Resolver.resolve(host: host, service: "\(port)", family: family, on: loop) { [self] answer in
                lookups[family] = nil
                guard completion != nil else { return }
                answers[family] = answer
                answered(family)
            }
            // A numeric host is answered at once, inside resolve: then there is nothing to keep.
            if answers[family] == nil, completion != nil { lookups[family] = request }
        }
    }

    private func answered(_ family: Resolver.Family) {
        let addresses = (try? answers[family]?.get()) ?? []
        if hasBegun {
            // A late answer joins the addresses still to try, interleaved with them.
            untried = Self.interleaving(untried, addresses)
            return tryNextIfIdle()
        }
        let bothIn = answers.count == 2
        if family == .ipv6 || bothIn {
            return begin()
        }
        // IPv4 first: give IPv6 a moment, as RFC 8305 asks, unless IPv4 found nothing anyway.
        guard !addresses.isEmpty else { return }
        timer = try? Timer.once(after: Self.resolutionDelay, on: loop) { [self] in
            timer = nil
            if !hasBegun { begin() }
        }
    }

    private func begin() {
        hasBegun = true
        timer?.close()
        timer = nil
        let v6 = (try? answers[.ipv6]?.get()) ?? []
        let v4 = (try? answers[.ipv4]?.get()) ?? []
        untried = Self.interleaving(v6, v4)
        tryNext()
    }

    /// Alternates families, starting with the first list's (RFC 8305 §4).
    static func interleaving(_ first: [SocketAddress], _ second: [SocketAddress]) -> [SocketAddress] {
        var result: [SocketAddress] = []
        for index in 0..<max(first.count, second.count) {
            if index < first.count { result.append(first[index]) }
            if index < second.count { result.append(second[index]) }
        }
        return result
    }

    // MARK: Connecting

    /// Races `addresses` (already resolved) in their order.
    func start(racing addresses: [SocketAddress]) {
        loop.checkOnLoopThread("TCPConnection.connect(toAnyOf:on:_:)")
        hasBegun = true
        answers = [.any: .success(addresses)]
        untried = addresses
        tryNext()
    }

    /// Starts an attempt on the next address, and arms the timer for the one after it.
    private func tryNext() {
        timer?.close()
        timer = nil
        guard completion != nil else { return }
        guard !untried.isEmpty else { return failIfExhausted() }
        let address = untried.removeFirst()
        do {
            let connection = try TCPConnection(on: loop)
            inFlight[ObjectIdentifier(connection)] = connection
            do {
                try connection.connect(to: address) { [self] result in attempted(connection, address, result) }
            } catch {
                attempted(connection, address, .failure(error))
            }
        } catch {
            failures.append((address, error))
        }
        if !untried.isEmpty {
            timer = try? Timer.once(after: attemptDelay, on: loop) { [self] in tryNext() }
        } else if inFlight.isEmpty {
            failIfExhausted()
        }
    }

    /// A new address, or a failed attempt: when nothing is in flight, the next goes at once.
    private func tryNextIfIdle() {
        if inFlight.isEmpty { tryNext() }
    }

    private func attempted(_ connection: TCPConnection, _ address: SocketAddress, _ result: Result<Void, UVError>) {
        inFlight[ObjectIdentifier(connection)] = nil
        guard completion != nil else { return connection.close() }
        switch result {
        case .success:
            finish(.success(connection))
        case .failure(let error):
            connection.close()
            failures.append((address, error))
            // Not waiting out the delay: a refusal is news that the next address should hear now.
            tryNext()
        }
    }

    /// Every address has failed and no lookup is still out: the connect fails, naming each.
    private func failIfExhausted() {
        guard completion != nil, inFlight.isEmpty, untried.isEmpty, lookups.isEmpty else { return }
        let operation = "connect to"
        switch failures.count {
        case 0:
            // No address at all: the lookups' own error, the one that says most (a name not found
            // rather than one family missing).
            let errors = [Resolver.Family.ipv4, .ipv6].compactMap { family -> UVError? in
                if case .failure(let error)? = answers[family] { return error }
                return nil
            }
            let telling = errors.first { $0 != .noAddress && $0 != .noAddressInFamily } ?? errors.first
            finish(.failure(telling ?? UVError.noAddress.during(operation, target: target)))
        case 1:
            finish(.failure(failures[0].error))
        default:
            let each = failures.map { "\($0.address): \($0.error.message)" }.joined(separator: "; ")
            let last = failures[failures.count - 1].error
            finish(.failure(UVError(last.rawValue, operation: operation, target: target, detail: "every address failed (\(each))")))
        }
    }

    private func finish(_ result: Result<TCPConnection, UVError>) {
        guard let completion else {
            if case .success(let connection) = result { connection.close() }
            return
        }
        self.completion = nil
        timer?.close()
        timer = nil
        // A lookup already running on the thread pool cannot be stopped: its answer is ignored.
        for request in lookups.values { request.cancel() }
        lookups = [:]
        for loser in inFlight.values { loser.close() }
        inFlight = [:]
        untried = []
        completion(result)
    }
}
