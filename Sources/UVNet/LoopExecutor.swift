// The doors into a loop from elsewhere: `execute` from any thread, and Swift concurrency's executors,
// so a task or an actor can run on the loop's own thread and await I/O there without a thread hop.
import CUV

extension Loop: SerialExecutor {
    /// Runs `work` on the loop's thread: soon, in order with other work, whatever thread calls this.
    /// Work posted from other threads wakes the loop (`uv_async_send`, whose wake-ups merge; each
    /// wake-up runs everything posted). Work posted after `close()` never runs.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        post(.closure(work))
    }

    /// Runs `body` now when called on the loop's thread, else posts it with `execute`.
    @inline(__always)
    func onLoopThread(_ body: @escaping @Sendable () -> Void) {
        if isOnLoopThread { body() } else { jobs.enqueueRemote(.closure(body)) }
    }

    /// Runs a job of an actor whose executor is this loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        post(.actorJob(UnownedJob(job)))
    }

    @inline(__always)
    func post(_ work: LoopWork) {
        if isOnLoopThread {
            jobs.enqueueLocal(work)
        } else {
            jobs.enqueueRemote(work)
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Traps unless called on the loop's thread (what an actor on this executor relies on).
    public func checkIsolated() {
        precondition(isOnLoopThread, "not on the loop's thread")
    }

    /// Runs `body` as a task on this loop's thread, and the loop with it, until `body` returns; then
    /// stops the loop and returns what `body` returned (or throws what it threw). Child tasks of `body`
    /// (`async let`, task groups) run on the loop too; so does `Task(executorPreference: loop.taskExecutor)`.
    ///
    /// ```swift
    /// let loop = try Loop()
    /// try loop.run {
    ///     try await loop.sleep(for: .milliseconds(10))
    /// }
    /// ```
    public func run<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) throws -> Result {
        assertOnLoopThread()
        let outcome = Outcome<Result>()
        jobs.keepAlive(true)
        Task(executorPreference: taskExecutor) {
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            self.onLoopThread {
                outcome.value = result
                self.jobs.keepAlive(false)
                uv_stop(self.raw)
            }
        }
        while outcome.value == nil {
            uv_run(raw, UV_RUN_DEFAULT)
        }
        return try outcome.value!.get()
    }

    /// Suspends for `duration` (never less), on a timer of this loop. Throws `CancellationError` if the
    /// task is canceled first. The corresponding C function is `uv_timer_start`.
    public func sleep(for duration: Duration) async throws {
        let timer = TimerBox()
        try await suspend(
            start: { (wake: Wake<Void>) in
                do {
                    let handle = try Timer(on: self)
                    timer.handle = handle
                    handle.start(after: duration) {
                        handle.close()
                        wake.resume(.success(()))
                    }
                } catch {
                    wake.resume(.failure(error))
                }
            },
            cancel: { wake in
                timer.handle?.close()
                wake.resume(.failure(CancellationError()))
            })
    }
}

/// The result of `Loop.run`'s task, written and read on the loop's thread.
private final class Outcome<Value>: @unchecked Sendable {
    var value: Result<Value, any Error>?
}

private final class TimerBox: @unchecked Sendable {
    var handle: Timer?
}

/// The loop as a task executor: `Task(executorPreference: loop.taskExecutor) { … }` runs the task's
/// nonisolated code on the loop's thread, where awaiting the loop's I/O needs no thread hop.
///
/// It is a type of its own, not a second conformance of `Loop`: the runtime calls the same `enqueue`
/// for both kinds of executor, and a loop that ran task jobs isolated to itself as a serial executor
/// made every nonisolated `await` switch executors (measured: about ten extra hops per echoed message).
public final class LoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    unowned(unsafe) let loop: Loop

    init(loop: Loop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        loop.post(.taskJob(UnownedJob(job)))
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }
}

/// An actor that lives on a loop: code isolated to it runs on the loop's thread, and awaiting the
/// loop's I/O from there resumes on that thread with no executor switch.
///
/// ```swift
/// func echo(_ connection: TCPConnection, on actor: isolated LoopActor) async throws {
///     for try await chunk in connection.inbound() { try await connection.write(chunk) }
/// }
/// ```
public actor LoopActor {
    /// The loop whose thread this actor's code runs on.
    public nonisolated let loop: Loop

    init(loop: Loop) {
        self.loop = loop
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        loop.asUnownedSerialExecutor()
    }
}
