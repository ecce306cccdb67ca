// RFC 8305's rules, checked on the Happy Eyeballs plan alone: a scripted world (lookups that answer at
// given times, addresses that accept, refuse or drop SYNs, a clock only the test moves) plays the events
// in time order, and each test asserts what the plan did and when. No socket, resolver or wall clock.
import Testing
@testable import UVNet
import UVNetTestSupport

@Suite("Happy Eyeballs plan")
struct HappyEyeballsPlanTests {
    let v6a = try! SocketAddress(ip: "2001:db8::a", port: 443)
    let v6b = try! SocketAddress(ip: "2001:db8::b", port: 443)
    let v4a = try! SocketAddress(ip: "192.0.2.1", port: 443)
    let v4b = try! SocketAddress(ip: "192.0.2.2", port: 443)

    @Test("AAAA first: the first attempt starts at once; an A answer arriving while it hangs is tried one delay later")
    func lateIPv4Answer() {
        var world = World(fates: [v6a: .dropsSYNs, v4a: .accepts(after: .milliseconds(1))])
        world.answer(.ipv6, [v6a], at: .zero)
        world.answer(.ipv4, [v4a], at: .milliseconds(10))
        let trace = world.run()
        #expect(trace.starts == [.init(at: .zero, v6a), .init(at: .milliseconds(250), v4a)])
        #expect(trace.outcome == .init(at: .milliseconds(251), .succeed(2)))
        #expect(trace.closed == [1], "the hanging IPv6 attempt is closed when IPv4 wins")
        #expect(world.openAttempts.isEmpty)
    }

    @Test("an address that arrives after the delay has passed is tried at once")
    func lateAnswerAfterTheDelay() {
        var world = World(fates: [v6a: .dropsSYNs, v4a: .accepts(after: .milliseconds(1))])
        world.answer(.ipv6, [v6a], at: .zero)
        world.answer(.ipv4, [v4a], at: .milliseconds(400))
        let trace = world.run()
        #expect(trace.starts == [.init(at: .zero, v6a), .init(at: .milliseconds(400), v4a)])
        #expect(trace.outcome == .init(at: .milliseconds(401), .succeed(2)))
    }

    @Test("A first: the resolution delay waits for AAAA, which then goes first")
    func ipv4AnswersFirst() {
        var world = World(fates: [v6a: .accepts(after: .milliseconds(5)), v4a: .dropsSYNs])
        world.answer(.ipv4, [v4a], at: .zero)
        world.answer(.ipv6, [v6a], at: .milliseconds(30))
        let trace = world.run()
        #expect(trace.starts == [.init(at: .milliseconds(30), v6a)])
        #expect(trace.outcome == .init(at: .milliseconds(35), .succeed(1)))
    }

    @Test("A first and AAAA late: IPv4 goes after the resolution delay, IPv6 joins one attempt delay later")
    func ipv6AnswersLate() {
        var world = World(fates: [v6a: .accepts(after: .milliseconds(5)), v4a: .dropsSYNs])
        world.answer(.ipv4, [v4a], at: .zero)
        world.answer(.ipv6, [v6a], at: .milliseconds(120))
        let trace = world.run()
        #expect(trace.starts == [.init(at: .milliseconds(50), v4a), .init(at: .milliseconds(300), v6a)])
        #expect(trace.outcome == .init(at: .milliseconds(305), .succeed(2)))
        #expect(trace.closed == [1])
    }

    @Test("families interleave, a new attempt every delay while all hang, and the error names every address")
    func interleavedAndAllFail() {
        let timeout = World.Fate.fails(.timedOut, after: .seconds(10))
        var world = World(fates: [v6a: timeout, v6b: timeout, v4a: timeout, v4b: timeout])
        world.answer(.ipv6, [v6a, v6b], at: .zero)
        world.answer(.ipv4, [v4a, v4b], at: .milliseconds(1))
        let trace = world.run()
        #expect(trace.starts.map(\.address) == [v6a, v4a, v6b, v4b])
        #expect(trace.starts.map(\.at) == [.zero, .milliseconds(250), .milliseconds(500), .milliseconds(750)])
        guard case .fail(let error)? = trace.outcome?.action else { Issue.record("no failure: \(trace)"); return }
        #expect(error == .timedOut)
        let text = "\(error)"
        #expect(text.contains("every address failed"), "\(text)")
        for address in [v6a, v6b, v4a, v4b] { #expect(text.contains("\(address): "), "\(text)") }
        #expect(world.openAttempts.isEmpty)
    }

    @Test("a refusal starts the next address at once, without waiting out the delay")
    func refusalMovesOn() {
        var world = World(fates: [v6a: .fails(.connectionRefused, after: .milliseconds(5)), v4a: .accepts(after: .milliseconds(1))])
        world.answer(.ipv6, [v6a], at: .zero)
        world.answer(.ipv4, [v4a], at: .milliseconds(1))
        let trace = world.run()
        #expect(trace.starts == [.init(at: .zero, v6a), .init(at: .milliseconds(5), v4a)])
        #expect(trace.outcome == .init(at: .milliseconds(6), .succeed(2)))
    }

    @Test("the first to connect wins and every other attempt in flight is closed at once")
    func winnerClosesTheRest() {
        var world = World(fates: [
            v6a: .dropsSYNs, v4a: .accepts(after: .milliseconds(300)), v6b: .dropsSYNs, v4b: .dropsSYNs,
        ])
        world.answer(.any, [v6a, v4a, v6b, v4b], at: .zero)
        let trace = world.run()
        #expect(trace.starts.map(\.address) == [v6a, v4a, v6b])
        #expect(trace.outcome == .init(at: .milliseconds(550), .succeed(2)))
        #expect(trace.closed == [1, 3])
        #expect(world.openAttempts.isEmpty)
    }

    @Test("canceled mid-race: every attempt in flight is closed, and the connect fails canceled")
    func canceledMidRace() {
        var world = World(fates: [v6a: .dropsSYNs, v4a: .dropsSYNs])
        world.answer(.ipv6, [v6a], at: .zero)
        world.answer(.ipv4, [v4a], at: .zero)
        world.cancel(at: .milliseconds(300))
        let trace = world.run()
        #expect(trace.starts.count == 2)
        #expect(trace.closed == [1, 2])
        #expect(trace.outcome == .init(at: .milliseconds(300), .fail(.canceled)))
        #expect(world.openAttempts.isEmpty)
    }

    @Test("no address at all: the lookups' telling error, once both have answered")
    func nothingToTry() {
        var world = World(fates: [:])
        world.answer(.ipv6, failure: .noAddressInFamily, at: .zero)
        world.answer(.ipv4, failure: .hostNotFound, at: .milliseconds(40))
        let trace = world.run()
        #expect(trace.starts.isEmpty)
        #expect(trace.outcome == .init(at: .milliseconds(40), .fail(.hostNotFound)))
    }

    @Test("an attempt delay outside 100 ms to 2 s is moved in", arguments: [
        (Duration.milliseconds(10), Duration.milliseconds(100)),
        (.milliseconds(300), .milliseconds(300)),
        (.seconds(5), .seconds(2)),
    ])
    func delayClamped(asked: Duration, used: Duration) {
        var world = World(fates: [v6a: .dropsSYNs, v4a: .dropsSYNs], attemptDelay: asked)
        world.answer(.any, [v6a, v4a], at: .zero)
        world.cancel(at: .seconds(3))
        let trace = world.run()
        #expect(trace.starts.map(\.at) == [.zero, used])
    }
}

/// A world for the plan to run in: when each lookup answers, what each address does with a SYN, a
/// clock that moves only from one scripted event to the next, and the one timer the plan arms.
struct World {
    enum Fate {
        case accepts(after: Duration)
        case fails(UVError, after: Duration)
        case dropsSYNs
    }

    struct Start: Equatable, CustomStringConvertible {
        let at: Duration
        let address: SocketAddress
        init(at: Duration, _ address: SocketAddress) { (self.at, self.address) = (at, address) }
        var description: String { "\(address) at \(at)" }
    }

    struct Outcome: Equatable {
        let at: Duration
        let action: HappyEyeballs.Action
        init(at: Duration, _ action: HappyEyeballs.Action) { (self.at, self.action) = (at, action) }
    }

    /// What the plan did, and when.
    struct Trace {
        var starts: [Start] = []
        var closed: [Int] = []
        var outcome: Outcome?
    }

    private let fates: [SocketAddress: Fate]
    private var plan: HappyEyeballs
    private var now: Duration = .zero
    /// Scripted and caused events, run in time order (ties in the order they were scheduled).
    private var scheduled: [(at: Duration, order: Int, event: Scheduled)] = []
    private var order = 0
    private var timerGeneration = 0
    /// Attempts started and neither ended nor closed.
    private(set) var openAttempts: Set<Int> = []

    private enum Scheduled {
        case event(HappyEyeballs.Event)
        case timer(generation: Int)
    }

    init(fates: [SocketAddress: Fate], attemptDelay: Duration = .milliseconds(250)) {
        self.fates = fates
        plan = HappyEyeballs(awaiting: [], target: "example.test:443", attemptDelay: attemptDelay)
    }

    mutating func answer(_ family: Resolver.Family, _ addresses: [SocketAddress], at time: Duration) {
        expect(family)
        schedule(.event(.answered(family, .success(addresses))), at: time)
    }

    mutating func answer(_ family: Resolver.Family, failure: UVError, at time: Duration) {
        expect(family)
        schedule(.event(.answered(family, .failure(failure))), at: time)
    }

    mutating func cancel(at time: Duration) {
        schedule(.event(.cancel(UVError.canceled.during("connect to", target: "example.test:443"))), at: time)
    }

    /// Plays every event in time order until the plan has finished, or nothing is left to happen.
    mutating func run() -> Trace {
        var trace = Trace()
        while !plan.isFinished, let next = scheduled.indices.min(by: { (scheduled[$0].at, scheduled[$0].order) < (scheduled[$1].at, scheduled[$1].order) }) {
            let (at, _, what) = scheduled.remove(at: next)
            now = at
            let event: HappyEyeballs.Event
            switch what {
            case .event(let scripted): event = scripted
            case .timer(let generation):
                guard generation == timerGeneration else { continue }  // replaced by a later arm
                event = .timerFired
            }
            if case .attemptEnded(let number, _) = event {
                guard openAttempts.remove(number) != nil else { continue }  // closed before it ended
            }
            for action in plan.handle(event) { carryOut(action, &trace) }
        }
        return trace
    }

    private mutating func carryOut(_ action: HappyEyeballs.Action, _ trace: inout Trace) {
        switch action {
        case .startAttempt(let number, let address):
            trace.starts.append(Start(at: now, address))
            openAttempts.insert(number)
            switch fates[address] ?? .dropsSYNs {
            case .accepts(let delay): schedule(.event(.attemptEnded(number, .success(()))), at: now + delay)
            case .fails(let error, let delay): schedule(.event(.attemptEnded(number, .failure(error))), at: now + delay)
            case .dropsSYNs: break
            }
        case .armTimer(let delay):
            timerGeneration += 1
            schedule(.timer(generation: timerGeneration), at: now + delay)
        case .closeAttempt(let number):
            trace.closed.append(number)
            openAttempts.remove(number)
        case .succeed(let number):
            openAttempts.remove(number)
            trace.outcome = Outcome(at: now, action)
        case .fail:
            trace.outcome = Outcome(at: now, action)
        }
    }

    private mutating func expect(_ family: Resolver.Family) {
        plan = HappyEyeballs(awaiting: plan.awaiting.union([family]), target: plan.target, attemptDelay: plan.attemptDelay)
    }

    private mutating func schedule(_ event: Scheduled, at time: Duration) {
        order += 1
        scheduled.append((time, order, event))
    }
}
