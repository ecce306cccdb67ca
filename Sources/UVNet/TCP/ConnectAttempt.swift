// A connect by host name under way, as RFC 8305 (Happy Eyeballs v2) has it: the lookups, attempts and
// timer on a loop, doing what the `HappyEyeballs` plan decides. Cancellable at any point.
import CUV

/// What `TCPConnection.connect(host:port:on:_:)` and `connect(toAnyOf:on:_:)` return: hold it only to
/// `cancel()` the connect. Canceling stops whatever is under way at once (the lookups, every attempt in
/// flight, whose sockets are closed) and completes the connect with `.canceled`.
public final class ConnectAttempt: @unchecked Sendable {  // every member checks the loop's thread
    /// How long a connect by name waits for the IPv6 answer once the IPv4 one is in (RFC 8305 §3).
    public static let resolutionDelay: Duration = .milliseconds(50)
    /// How long an attempt has on its own before the next address is tried beside it (RFC 8305 §5).
    /// Another delay may be asked for; it is kept within `attemptDelays`.
    public static let defaultAttemptDelay: Duration = .milliseconds(250)
    /// The attempt delays RFC 8305 recommends, 100 ms to 2 s: a delay asked for outside is moved in.
    public static let attemptDelays: ClosedRange<Duration> = .milliseconds(100) ... .seconds(2)

    /// The loop the connect runs on.
    public let loop: Loop
    /// The decisions: which address when, who won, what the error says.
    private var plan: HappyEyeballs
    private var completion: ((Result<TCPConnection, UVError>) -> Void)?
    /// The lookups still running, by family.
    private var lookups: [Resolver.Family: Resolver.Request] = [:]
    /// The attempts in flight, by the plan's number.
    private var attempts: [Int: TCPConnection] = [:]
    /// The one timer the plan asked for last.
    private var timer: Timer?
    /// Events that came while the plan's last answer was being carried out, in order.
    private var pending: [HappyEyeballs.Event] = []
    private var isHandling = false

    init(
        target: String, awaiting families: Set<Resolver.Family>, attemptDelay: Duration, on loop: Loop,
        _ completion: @escaping (Result<TCPConnection, UVError>) -> Void
    ) {
        self.loop = loop
        self.plan = HappyEyeballs(awaiting: families, target: target, attemptDelay: attemptDelay)
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
        handle(.cancel(UVError.canceled.during("connect to", target: plan.target)))
    }

    /// Looks up both families at once; the plan decides when connecting begins.
    func start(resolving host: String, port: Int) {
        loop.checkOnLoopThread("TCPConnection.connect(host:port:on:_:)")
        for family in [Resolver.Family.ipv6, .ipv4] {
            let request = Resolver.resolve(host: host, service: "\(port)", family: family, on: loop) { [self] answer in
                lookups[family] = nil
                handle(.answered(family, answer))
            }
            // A numeric host is answered at once, inside resolve: then there is nothing to keep.
            if !request.isFinished, completion != nil { lookups[family] = request }
        }
    }

    /// Races `addresses` (already resolved) in their order.
    func start(racing addresses: [SocketAddress]) {
        loop.checkOnLoopThread("TCPConnection.connect(toAnyOf:on:_:)")
        handle(.answered(.any, .success(addresses)))
    }

    /// Hands `event` to the plan and carries out what it answers. An event that comes while an answer
    /// is being carried out (an attempt that fails at once) waits its turn, so the plan sees one at a time.
    private func handle(_ event: HappyEyeballs.Event) {
        pending.append(event)
        guard !isHandling else { return }
        isHandling = true
        while !pending.isEmpty {
            for action in plan.handle(pending.removeFirst()) { perform(action) }
        }
        isHandling = false
    }

    private func perform(_ action: HappyEyeballs.Action) {
        switch action {
        case .startAttempt(let number, let address):
            startAttempt(number, to: address)
        case .armTimer(let delay):
            timer?.close()
            do {
                timer = try Timer.once(after: delay, on: loop) { [self] in
                    timer = nil
                    handle(.timerFired)
                }
            } catch {
                // No timer on a closing loop: not waiting is the one answer that cannot hang.
                timer = nil
                handle(.timerFired)
            }
        case .closeAttempt(let number):
            attempts.removeValue(forKey: number)?.close()
        case .succeed(let number):
            let winner = attempts.removeValue(forKey: number)
            finish(winner.map { .success($0) } ?? .failure(UVError.canceled.during("connect to", target: plan.target)))
        case .fail(let error):
            finish(.failure(error))
        }
    }

    private func startAttempt(_ number: Int, to address: SocketAddress) {
        do {
            let connection = try TCPConnection(on: loop)
            attempts[number] = connection
            try connection.connect(to: address) { [self] result in attemptEnded(number, result) }
        } catch {
            attemptEnded(number, .failure(error))
        }
    }

    /// A failed attempt's socket is closed at once, not when the whole connect ends.
    private func attemptEnded(_ number: Int, _ result: Result<Void, UVError>) {
        if case .failure = result { attempts.removeValue(forKey: number)?.close() }
        handle(.attemptEnded(number, result))
    }

    private func finish(_ result: Result<TCPConnection, UVError>) {
        guard let completion else { return }
        self.completion = nil
        timer?.close()
        timer = nil
        // A lookup already running on the thread pool cannot be stopped: its answer is ignored.
        for request in lookups.values { request.cancel() }
        lookups = [:]
        for leftover in attempts.values { leftover.close() }
        attempts = [:]
        completion(result)
    }
}
