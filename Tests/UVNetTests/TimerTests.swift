// Timers: never early, the right number of repeats, stoppable from their own callback.
import Testing
import UVNet

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
            #expect(timer.repeatInterval == .milliseconds(3))  // rounded up, plus the truncation guard
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
}
