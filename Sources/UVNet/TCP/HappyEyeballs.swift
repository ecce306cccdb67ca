// RFC 8305 (Happy Eyeballs v2) as decisions alone: what to do when a lookup answers, an attempt ends or the timer
// fires. No socket, resolver or clock here, so a test can play any order of events; `ConnectAttempt` carries them out.

/// The Happy Eyeballs state machine: feed it `Event`s, carry out the `Action`s it answers, in order.
struct HappyEyeballs {
    /// What happened.
    enum Event {
        /// A lookup answered (`.any`: addresses given, not looked up).
        case answered(Resolver.Family, Result<[SocketAddress], UVError>)
        /// The one timer asked for by the last `.armTimer` went off.
        case timerFired
        /// Attempt number N connected, or failed.
        case attemptEnded(Int, Result<Void, UVError>)
        /// The caller gave up (canceled, or timed out).
        case cancel(UVError)
    }

    /// What to do, in order.
    enum Action: Equatable {
        /// Connect to the address; its outcome comes back as `.attemptEnded(N, …)`.
        case startAttempt(Int, SocketAddress)
        /// Fire `.timerFired` after the duration, in place of any timer still pending.
        case armTimer(Duration)
        /// Close attempt N (a loser, or one in flight when the connect ended).
        case closeAttempt(Int)
        /// Attempt N won: hand its connection to the caller. Nothing more will be asked.
        case succeed(Int)
        /// The connect failed: tell the caller. Nothing more will be asked.
        case fail(UVError)
    }

    /// Whom errors name: `host:port`, or the addresses raced.
    let target: String
    /// The Connection Attempt Delay, within `ConnectAttempt.attemptDelays`.
    let attemptDelay: Duration
    /// Lookups not answered yet.
    private(set) var awaiting: Set<Resolver.Family>
    private var answers: [Resolver.Family: Result<[SocketAddress], UVError>] = [:]
    private var hasBegun = false
    /// Addresses not tried yet, in the order they will be.
    private var untried: [SocketAddress] = []
    private var inFlight: [Int: SocketAddress] = [:]
    private var attemptsStarted = 0
    private var lastStarted: SocketAddress?
    /// True from an attempt's start until the attempt delay after it has passed: while it runs, a new
    /// address waits for the timer (unless nothing is in flight).
    private var delayRunning = false
    private var failures: [(address: SocketAddress, error: UVError)] = []
    /// True once `.succeed` or `.fail` has been answered.
    private(set) var isFinished = false

    /// A connect that waits for the lookups of `families` (`.any` for addresses given at once).
    init(awaiting families: Set<Resolver.Family>, target: String, attemptDelay: Duration) {
        self.awaiting = families
        self.target = target
        let bounds = ConnectAttempt.attemptDelays
        self.attemptDelay = min(max(attemptDelay, bounds.lowerBound), bounds.upperBound)
    }

    /// What to do about `event`.
    mutating func handle(_ event: Event) -> [Action] {
        guard !isFinished else { return [] }
        var actions: [Action] = []
        switch event {
        case .answered(let family, let answer):
            answered(family, answer, &actions)
        case .timerFired:
            if hasBegun {
                delayRunning = false
                startNextIfDue(&actions)
            } else {
                begin(&actions)
            }
        case .attemptEnded(let number, let result):
            guard let address = inFlight.removeValue(forKey: number) else { break }
            attemptEnded(number, address, result, &actions)
        case .cancel(let error):
            finish(.fail(error), &actions)
        }
        return actions
    }

    private mutating func answered(
        _ family: Resolver.Family, _ answer: Result<[SocketAddress], UVError>, _ actions: inout [Action]
    ) {
        awaiting.remove(family)
        answers[family] = answer
        let addresses = (try? answer.get()) ?? []
        if hasBegun {
            untried = joining(addresses)
            return startNextIfDue(&actions)
        }
        // IPv4 first: give IPv6 a moment, as RFC 8305 §3 asks, unless IPv4 found nothing anyway.
        if family == .ipv4 && awaiting.contains(.ipv6) {
            if !addresses.isEmpty { actions.append(.armTimer(ConnectAttempt.resolutionDelay)) }
            return
        }
        begin(&actions)
    }

    private mutating func begin(_ actions: inout [Action]) {
        hasBegun = true
        let v6 = (try? answers[.ipv6]?.get()) ?? []
        let v4 = (try? answers[.ipv4]?.get()) ?? []
        let given = (try? answers[.any]?.get()) ?? []
        untried = given + Self.interleaving(v6, v4)
        startNextIfDue(&actions)
    }

    /// A late answer's addresses join the untried, families alternating from the last attempt's (RFC 8305 §4).
    private func joining(_ addresses: [SocketAddress]) -> [SocketAddress] {
        let all = untried + addresses
        let v6 = all.filter(\.isIPv6)
        let v4 = all.filter { !$0.isIPv6 }
        return lastStarted?.isIPv6 == true ? Self.interleaving(v4, v6) : Self.interleaving(v6, v4)
    }

    /// Starts the next address when one is due: nothing is in flight, or the attempt delay has passed.
    private mutating func startNextIfDue(_ actions: inout [Action]) {
        guard !untried.isEmpty else { return failIfExhausted(&actions) }
        guard inFlight.isEmpty || !delayRunning else { return }
        startNext(&actions)
    }

    private mutating func startNext(_ actions: inout [Action]) {
        let address = untried.removeFirst()
        attemptsStarted += 1
        inFlight[attemptsStarted] = address
        lastStarted = address
        delayRunning = true
        actions.append(.startAttempt(attemptsStarted, address))
        actions.append(.armTimer(attemptDelay))
    }

    private mutating func attemptEnded(
        _ number: Int, _ address: SocketAddress, _ result: Result<Void, UVError>, _ actions: inout [Action]
    ) {
        switch result {
        case .success:
            finish(.succeed(number), &actions)
        case .failure(let error):
            failures.append((address, error))
            // Not waiting out the delay: a refusal is news that the next address should hear now.
            if untried.isEmpty { return failIfExhausted(&actions) }
            startNext(&actions)
        }
    }

    /// Every address has failed and no lookup is still out: the connect fails, naming each.
    private mutating func failIfExhausted(_ actions: inout [Action]) {
        guard hasBegun, inFlight.isEmpty, untried.isEmpty, awaiting.isEmpty else { return }
        finish(.fail(exhaustedError), &actions)
    }

    private var exhaustedError: UVError {
        let operation = "connect to"
        switch failures.count {
        case 0:
            // No address at all: the lookups' error that says most (a name not found, not one family missing).
            let errors = [Resolver.Family.ipv4, .ipv6, .any].compactMap { family -> UVError? in
                if case .failure(let error)? = answers[family] { return error }
                return nil
            }
            let telling = errors.first { $0 != .noAddress && $0 != .noAddressInFamily } ?? errors.first
            return telling ?? UVError.noAddress.during(operation, target: target)
        case 1:
            return failures[0].error
        default:
            let each = failures.map { "\($0.address): \($0.error.message)" }.joined(separator: "; ")
            let last = failures[failures.count - 1].error
            return UVError(
                last.rawValue, operation: operation, target: target, detail: "every address failed (\(each))")
        }
    }

    /// Ends the connect: every other attempt in flight is closed first, in the order they started.
    private mutating func finish(_ outcome: Action, _ actions: inout [Action]) {
        isFinished = true
        for number in inFlight.keys.sorted() { actions.append(.closeAttempt(number)) }
        inFlight = [:]
        untried = []
        actions.append(outcome)
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
}
