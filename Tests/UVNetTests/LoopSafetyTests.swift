// A loop's own rules, checked as a user would break them: work after close, a task that never stops
// yielding, a handle touched from another thread. The cases that would crash or hang run in a child
// process (an exit test), with an alarm where a hang is what went wrong.
import Glibc
import Testing
import UVNet
import UVNetTestSupport

@Suite("Loop safety")
struct LoopSafetyTests {
    @Test("work posted on the owner thread after close is refused with .loopClosed, not run on freed memory")
    func executeAfterClose() async {
        await #expect(processExitsWith: .success) { try executeAfterCloseOnOwnerThread() }
    }

    @Test("work posted from another thread after close is refused with .loopClosed, not dropped silently")
    func executeFromAnotherThreadAfterClose() throws {
        let loop = try Loop()
        try loop.close()
        let refused = Shared<UVError?>(nil)
        onAnotherThread {
            do {
                try loop.execute { Issue.record("work ran on a closed loop") }
            } catch let error as UVError {
                refused.value = error
            } catch {
                Issue.record("execute threw \(error)")
            }
        }
        #expect(refused.value == .loopClosed)
    }

    @Test("a task awaiting a closed loop from another thread is told, not left hanging")
    func awaitOnClosedLoop() async throws {
        let (loop, timer) = try closedLoopWithTimer()
        await timer.close()  // the loop closed it; this returns at once
        await #expect(throws: UVError.loopClosed) { try await loop.sleep(for: .seconds(60)) }
    }

    @Test("a task still sleeping when its loop closes is resumed with .loopClosed")
    func closeFailsWaiters() throws {
        let loop = try Loop()
        let outcome = LoopBound<Result<Void, any Error>?>(nil, on: loop)
        Task(executorPreference: loop.taskExecutor) {
            do {
                try await loop.sleep(for: .seconds(60))
                outcome.value = .success(())
            } catch {
                outcome.value = .failure(error)
            }
        }
        loop.run(.noWait)  // the task starts and its timer is armed
        try loop.close()
        #expect(throws: UVError.loopClosed) { try outcome.value?.get() }
    }

    @Test("a closed loop refuses resolutions and sockets with clear errors")
    func closedLoopRefuses() throws {
        let loop = try Loop()
        let socket = try UDPSocket(on: loop)
        try loop.close()
        #expect(throws: UVError.loopClosed) { _ = try Timer(on: loop) }
        #expect(throws: UVError.badFileDescriptor) { try socket.bind(to: anyLocalPort) }
        var resolved: Result<[SocketAddress], UVError>?
        Resolver.resolve(host: "localhost", on: loop) { resolved = $0 }
        #expect(throws: UVError.loopClosed) { try resolved?.get() }
    }

    @Test("a task that yields in a loop cannot starve a timer of the same loop")
    func yieldingTaskLetsTimersRun() async {
        await #expect(processExitsWith: .success) { try yieldUntilTimerFires() }
    }

    @Test("work posted while the queue drains runs in the next iteration, after the loop polled")
    func postedDuringDrainWaits() throws {
        try withLoop { loop in
            let ran = LoopBound<[String]>([], on: loop)
            try loop.execute {
                ran.value.append("first")
                try? loop.execute { ran.value.append("second") }
            }
            loop.run(.noWait)
            #expect(ran.value == ["first"])
            loop.run(.noWait)
            #expect(ran.value == ["first", "second"])
        }
    }

    @Test("a timer started from another thread traps, naming the method and the loop's thread")
    func timerFromAnotherThread() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try startTimerFromAnotherThread()
        }
        expectMessage(of: result, naming: ["Timer.start(after:repeating:_:)", "belongs to thread"])
    }

    @Test("a connection written from another thread traps, naming the method and the loop's thread")
    func writeFromAnotherThread() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try writeFromAnotherThreadScenario()
        }
        expectMessage(of: result, naming: ["TCPConnection.write(", "belongs to thread"])
    }

    @Test("a LoopBound value read from another thread traps")
    func loopBoundFromAnotherThread() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            try readLoopBoundFromAnotherThread()
        }
        expectMessage(of: result, naming: ["LoopBound.value", "belongs to thread"])
    }

    @Test("listening on a group that was shut down is an error, not a hang")
    func listenAfterShutdown() async {
        await #expect(processExitsWith: .success) { try listenOnShutDownGroup() }
    }

    @Test("the async forms of a group wait for its loops without blocking the caller")
    func asyncGroup() async throws {
        let group = try await LoopGroup(loopCount: 2)
        let address = try await group.listen(on: anyLocalPort) { _ in }
        #expect(address.port != 0)
        await group.shutdown()
        await #expect(throws: UVError.loopClosed) { _ = try await group.listen(on: anyLocalPort) { _ in } }
    }
}

/// Checks that a trapped child process said each of `phrases` on stderr.
private func expectMessage(of result: ExitTest.Result?, naming phrases: [String]) {
    let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    for phrase in phrases { #expect(message.contains(phrase), "\(message)") }
}

// The scenarios run in child processes: plain functions, since a loop is made and run outside async code.

private func executeAfterCloseOnOwnerThread() throws {
    let loop = try Loop()
    try loop.close()
    #expect(throws: UVError.loopClosed) { try loop.execute { Issue.record("work ran on a closed loop") } }
}

private func closedLoopWithTimer() throws -> (Loop, Timer) {
    let loop = try Loop()
    let timer = try Timer(on: loop)
    try loop.close()
    return (loop, timer)
}

private func yieldUntilTimerFires() throws {
    alarm(20)  // a starved timer would hang this process: the alarm ends it as a failure
    let loop = try Loop()
    let done = LoopBound(false, on: loop)
    let timer = try Timer(on: loop)
    timer.start(after: .milliseconds(20)) {
        done.value = true
        timer.close()
    }
    try loop.run {
        while !done.value { await Task.yield() }
    }
    try loop.close()
}

private func startTimerFromAnotherThread() throws {
    let loop = try Loop()
    let timer = try Timer(on: loop)
    onAnotherThread { timer.start(after: .milliseconds(1)) {} }
}

private func writeFromAnotherThreadScenario() throws {
    let loop = try Loop()
    let connection = try TCPConnection(on: loop)
    onAnotherThread { connection.write([1, 2, 3]) }
}

private func readLoopBoundFromAnotherThread() throws {
    let loop = try Loop()
    let count = LoopBound(0, on: loop)
    onAnotherThread { _ = count.value }
}

private func listenOnShutDownGroup() throws {
    alarm(20)
    let group = try LoopGroup(loopCount: 2)
    group.shutdown()
    #expect(throws: UVError.loopClosed) { _ = try group.listen(on: anyLocalPort) { _ in } }
}

/// Runs `body` on a thread of its own and waits for it: surely not the thread that made a loop here.
func onAnotherThread(_ body: @escaping @Sendable () -> Void) {
    var thread = pthread_t()
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    pthread_create(&thread, nil, { Unmanaged<ThreadBody>.fromOpaque($0!).takeRetainedValue().run(); return nil }, box)
    pthread_join(thread, nil)
}

private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
