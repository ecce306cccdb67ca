// Timers: never early, the right number of repeats, stoppable from their own callback.
import Testing
import UVNet
import UVNetTestSupport

@Suite("Timer")
struct TimerTests {
    @Test("a timer never fires before its delay", arguments: [1, 5, 20])
    func neverEarly(milliseconds: Int) throws {
        try withLoop { loop in
            let timer = try Timer(on: loop)
            let clock = ContinuousClock()
            var elapsed: [Duration] = []
            var start = clock.now
            func arm() {
                start = clock.now
                timer.start(after: .milliseconds(milliseconds)) {
                    elapsed.append(clock.now - start)
                    if elapsed.count < 10 { arm() } else { timer.close() }
                }
            }
            arm()
            loop.run()
            #expect(elapsed.count == 10)
            for interval in elapsed { #expect(interval >= .milliseconds(milliseconds)) }
        }
    }

    @Test("a repeating timer fires as often as asked, then stops from inside its callback")
    func repeatCount() throws {
        try withLoop { loop in
            let timer = try Timer(on: loop)
            var fires = 0
            timer.start(after: .milliseconds(1), repeating: .milliseconds(2)) {
                fires += 1
                if fires == 5 { timer.stop() }
            }
            #expect(timer.repeatInterval == .milliseconds(2))  // reads back what was set
            loop.run()  // ends once the stopped timer no longer keeps the loop alive
            #expect(fires == 5)
            #expect(!timer.isActive)
            timer.close()
        }
    }

    @Test("stopping a one-shot timer before it is due means it never fires")
    func stopBeforeDue() throws {
        try withLoop { loop in
            let timer = try Timer(on: loop)
            let other = try Timer(on: loop)
            var fired = false
            timer.start(after: .milliseconds(5)) { fired = true }
            other.start(after: .milliseconds(1)) { timer.stop() }
            loop.run()
            #expect(!fired)
        }
    }

    @Test("again restarts a repeating timer; without a repeat it is an error")
    func again() throws {
        try withLoop { loop in
            let timer = try Timer(on: loop)
            #expect(throws: UVError.invalidArgument) { try timer.again() }
            var fires = 0
            timer.start(after: .milliseconds(1), repeating: .milliseconds(1)) {
                fires += 1
                if fires == 2 { timer.close() }
            }
            try timer.again()
            loop.run()
            #expect(fires == 2)
        }
    }

    @Test("a repeating timer keeps its interval: the never-early margin applies to the first delay only")
    func repeatIsNotStretched() throws {
        try withLoop { loop in
            let timer = try Timer(on: loop)
            var fired: [UInt64] = []
            timer.start(after: .milliseconds(10), repeating: .milliseconds(10)) {
                fired.append(loop.now)
                if fired.count == 30 { timer.close() }
            }
            #expect(timer.repeatInterval == .milliseconds(10))
            loop.run()
            let intervals = zip(fired.dropFirst(), fired).map { $0 - $1 }
            #expect(intervals.allSatisfy { $0 >= 10 }, "\(intervals)")
            #expect(intervals.min() == 10, "every interval was stretched: \(intervals)")
        }
    }

    @Test("a delay too large for libuv saturates instead of trapping")
    func hugeDelay() throws {
        try withLoop { loop in
            let timer = try Timer(on: loop)
            timer.start(after: .seconds(Int64.max), repeating: .seconds(Int64.max)) {}
            #expect(timer.dueIn > .seconds(100 * 365 * 24 * 3600))
            #expect(timer.repeatInterval != nil)
            timer.close()
        }
    }
}
