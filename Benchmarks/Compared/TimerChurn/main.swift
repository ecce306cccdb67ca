// One million timers created, started and closed on one loop: the Swift half of Benchmarks/timers/run
// (the C half is Benchmarks/timers/timers.c). Prints the nanoseconds the churn took, nothing else.
import UVNet

let count = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000_000 : 1_000_000
let loop = try Loop()
let clock = ContinuousClock()
let started = clock.now
var timers: [Timer] = []
timers.reserveCapacity(count)
for _ in 0..<count {
    let timer = try Timer(on: loop)
    timer.start(after: .seconds(3600)) {}
    timers.append(timer)
}
for timer in timers { timer.close() }
timers.removeAll()
_ = loop.run()
let elapsed = clock.now - started
print(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
try loop.close()
