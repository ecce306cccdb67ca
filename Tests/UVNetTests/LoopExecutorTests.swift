// The loop as a door from other threads and as an executor for Swift tasks and actors.
import Foundation
import Testing
import UVNet
import UVNetTestSupport

/// An actor whose code runs on a loop's thread.
actor OnLoop {
    let loop: Loop
    var count = 0
    init(loop: Loop) { self.loop = loop }
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }

    func touch() -> Bool {
        count += 1
        return loop.isOnLoopThread
    }
}

@Suite("Loop executor")
struct LoopExecutorTests {
    @Test("execute from 8 threads x 1000 posts runs exactly 8000 times, on the loop's thread")
    func crossThreadExecute() throws {
        try withLoop { loop in
            let threads = 8
            let posts = 1000
            let counts = Shared((ran: 0, offThread: 0))
            let finished = DispatchGroup()
            try loop.run {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    for _ in 0..<threads {
                        finished.enter()
                        Thread.detachNewThread {
                            for _ in 0..<posts {
                                try! loop.execute {
                                    let ran = counts.update { counts in
                                        counts.ran += 1
                                        if !loop.isOnLoopThread { counts.offThread += 1 }
                                        return counts.ran
                                    }
                                    if ran == threads * posts { done.resume() }
                                }
                            }
                            finished.leave()
                        }
                    }
                }
            }
            finished.wait()
            #expect(counts.value.ran == threads * posts)
            #expect(counts.value.offThread == 0)
        }
    }

    @Test("a task run on the loop stays on its thread across awaits; sleep is never early")
    func runAndSleep() throws {
        try withLoop { loop in
            let elapsed = try loop.run {
                let clock = ContinuousClock()
                let start = clock.now
                #expect(loop.isOnLoopThread)
                try await loop.sleep(for: .milliseconds(15))
                #expect(loop.isOnLoopThread)
                async let child = loop.sleep(for: .milliseconds(1))
                try await child
                #expect(loop.isOnLoopThread)
                return clock.now - start
            }
            #expect(elapsed >= .milliseconds(16))
        }
    }

    @Test("an actor on the loop's executor runs there")
    func actorOnLoop() throws {
        try withLoop { loop in
            let actor = OnLoop(loop: loop)
            let results = try loop.run {
                var results: [Bool] = []
                for _ in 0..<3 { results.append(await actor.touch()) }
                return results
            }
            #expect(results == [true, true, true])
        }
    }

    @Test("canceling a sleeping task ends it at once with CancellationError")
    func cancelSleep() throws {
        try withLoop { loop in
            let clock = ContinuousClock()
            let start = clock.now
            let outcome = try loop.run {
                let sleeper = Task(executorPreference: loop.taskExecutor) { try await loop.sleep(for: .seconds(30)) }
                try await loop.sleep(for: .milliseconds(5))
                sleeper.cancel()
                return await sleeper.result
            }
            #expect(throws: CancellationError.self) { try outcome.get() }
            #expect(clock.now - start < .seconds(5))
        }
    }

    @Test("what body throws, run throws")
    func runThrows() throws {
        try withLoop { loop in
            #expect(throws: UVError.timedOut) {
                try loop.run { throw UVError.timedOut }
            }
        }
    }
}
