// The doors into a loop from elsewhere: `execute` from any thread, and Swift concurrency's executors,
// so a task or an actor can run on the loop's own thread and await I/O there without a thread hop.
import CUV

extension Loop: SerialExecutor {
    /// Runs `work` on the loop's thread: soon, in order with other work, whatever thread calls this.
    /// Work posted from other threads wakes the loop (`uv_async_send`, whose wake-ups merge). Throws
    /// `.loopClosed`, and never runs `work`, once the loop is closed; work accepted before that runs.
    public func execute(_ work: @escaping @Sendable () -> Void) throws(UVError) {
        guard jobs.post(.closure(work)) else { throw UVError.loopClosed.during("execute on") }
    }

    /// Runs `body` now on the loop's thread, else posts it; false when a closed loop refused it (it will not run).
    @inline(__always)
    @_spi(StreamLayers) public func runOnLoopThread(_ body: @escaping @Sendable () -> Void) -> Bool {
        if isOnLoopThread {
            body()
            return true
        }
        return jobs.post(.closure(body))
    }

    /// Queues work for the loop's thread (see `JobQueue.post`).
    @inline(__always)
    func post(_ work: LoopWork) -> Bool {
        jobs.post(work)
    }

    /// Runs a job of an actor whose executor is this loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        guard jobs.post(.actorJob(UnownedJob(job))) else {
            fatalError(
                "UVNet: an actor whose executor is a closed loop was given work; it has no thread to run on. "
                    + "Finish such actors' work before closing their loop (or shutting down its group).")
        }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Traps unless called on the loop's thread (what an actor on this executor relies on).
    public func checkIsolated() {
        checkOnLoopThread("code isolated to an actor on this loop")
    }

    /// On the loop's thread, code runs isolated to this executor (for `assumeIsolated`).
    public func isIsolatingCurrentContext() -> Bool? {
        isOnLoopThread
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
    @available(*, noasync, message: "run blocks its thread until body returns; call body directly in async code")
    public func run<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) throws -> Result {
        checkOnLoopThread("Loop.run(_:)")
        guard acceptsHandles else { throw UVError.loopClosed.during("run") }
        refuseReentry("Loop.run(_:)")
        let outcome = LoopBound<Swift.Result<Result, any Error>?>(nil, on: self)
        jobs.keepAlive(true)
        Task(executorPreference: taskExecutor) {
            let result: Swift.Result<Result, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            _ = self.runOnLoopThread {
                outcome.value = result
                self.jobs.keepAlive(false)
                uv_stop(self.raw)
            }
        }
        isRunning = true
        defer { isRunning = false }
        while outcome.value == nil {
            uv_run(raw, UV_RUN_DEFAULT)
        }
        return try outcome.value!.get()
    }

    /// Suspends for `duration` (never less), on a timer of this loop. Throws `CancellationError` if the
    /// task is canceled first. The corresponding C function is `uv_timer_start`.
    public func sleep(for duration: Duration) async throws {
        let timer = LoopBound<Timer?>(nil, on: self)
        try await suspend(
            { (wake: Wake<Void>) in
                do {
                    timer.value = try Timer.once(after: duration, on: self) { wake.resume(.success(())) }
                } catch {
                    wake.resume(.failure(error))
                }
            },
            abandon: { timer.value?.close() })
    }

    /// An actor that lives on this loop: code isolated to it runs on the loop's thread. Every access
    /// makes a new one; they all share this loop as their executor, so any of them will do.
    public var actor: LoopActor {
        LoopActor(loop: self)
    }
}

/// The loop as a task executor: `Task(executorPreference: loop.taskExecutor) { … }` runs the task's
/// nonisolated code on the loop's thread, where awaiting the loop's I/O needs no thread hop.
///
/// It is a type of its own, not a second conformance of `Loop`: the runtime calls the same `enqueue`
/// for both kinds of executor, and a loop that ran task jobs isolated to itself as a serial executor
/// made every nonisolated `await` switch executors (measured: about ten extra hops per echoed message).
///
/// It holds the loop's queue, not the loop, so a task may outlive its loop: once the loop is closed,
/// the task's jobs run on the global executor instead, and its awaits on the loop end with `.loopClosed`.
public final class LoopTaskExecutor: TaskExecutor {
    private let jobs: JobQueue

    init(jobs: JobQueue) {
        self.jobs = jobs
    }

    /// Runs `job` on the loop's thread, in a coming turn of the loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !jobs.post(.taskJob(job)) {
            // A closed loop: the task goes on elsewhere rather than never.
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
        }
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }
}

/// An actor that lives on a loop: code isolated to it runs on the loop's thread, and awaiting the
/// loop's I/O from there resumes on that thread with no executor switch.
///
/// Its work ends with its loop: once the loop is closed there is no thread left for it, and work given
/// to it then stops the process with a message. Finish such actors' work before closing the loop.
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
