// The loop's queue of work from Swift concurrency and from other threads, run on the loop's thread in
// bounded batches, so that no task can starve the loop's I/O and timers.
import CUV

/// Work for the loop's thread: an actor's job, a loop-preferring task's job, or a `Loop.execute` closure.
enum LoopWork: Sendable {
    case actorJob(UnownedJob)
    case taskJob(UnownedJob)
    case closure(@Sendable () -> Void)
}

/// Two queues feed the loop. Work enqueued on the loop's own thread (a continuation resumed by an I/O
/// callback, say) goes to a plain array and runs at the end of that callback or, failing that, from an
/// idle handle before the loop next polls: no lock, no system call. Work from other threads goes through
/// a lock and wakes the loop with `uv_async_send`, whose wake-ups merge: each wake-up takes everything.
///
/// A drain runs at most `batchLimit` jobs, and never the jobs posted while it runs: those wait for the next drain,
/// after the next I/O callback or in the loop's next iteration (the idle handle keeps that iteration from blocking in
/// poll), so a task that yields in a loop shares the thread with timers and I/O instead of holding it.
///
/// Once closed, the queue refuses work: `post` answers false and the caller decides what refusal means
/// (`execute` throws, a task's job moves to the global executor, a waiter fails).
final class JobQueue: @unchecked Sendable {  // `post` checks the thread (`owner.isCurrent`): other threads reach `inbox` only, under its lock; the rest runs in the loop's callbacks, on `owner`'s thread
    /// The most jobs one drain runs (SwiftNIO's event loop runs at most 4096 tasks per tick, too).
    static let batchLimit = 4096

    /// Work from other threads, and whether it is still accepted.
    private struct Inbox {
        var work: [LoopWork] = []
        var isOpen = true
    }

    let owner: ThreadIdentity
    private let inbox = Locked(Inbox())
    @exclusivity(unchecked)
    private var local: [LoopWork] = []
    /// The batch being run; kept between drains for its capacity.
    @exclusivity(unchecked)
    private var running: [LoopWork] = []
    @exclusivity(unchecked)
    private var isDraining = false
    @exclusivity(unchecked)
    private var idleStarted = false
    private var keepAliveCount = 0
    private(set) var isClosed = false
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let idle: UnsafeMutablePointer<uv_idle_t>
    /// The executors jobs run on; set by the loop once it exists.
    var serialExecutor: UnownedSerialExecutor?
    var taskExecutor: UnownedTaskExecutor?

    init(loop: UnsafeMutablePointer<uv_loop_t>, owner: ThreadIdentity) throws(UVError) {
        self.owner = owner
        wakeup = .allocate(capacity: 1)
        idle = .allocate(capacity: 1)
        do {
            try uvCheck(uv_async_init(loop, wakeup, JobQueue.wokenUp), "create the loop's wake-up handle")
        } catch {
            wakeup.deallocate()
            idle.deallocate()
            throw error
        }
        uvRequire(uv_idle_init(loop, idle), "uv_idle_init")
        // No Swift handle behind these: Loop.close knows them by the nil and closes them itself.
        wakeup.pointee.data = nil
        idle.pointee.data = nil
        // The wake-up handle does not keep the loop running by itself (a loop with nothing else to do
        // may end); the idle handle does, but it is started only while local work waits to run.
        uv_unref(wakeup.cast(to: uv_handle_t.self))
    }

    /// Queues `work` for the loop's thread from any thread; false once the queue is closed: refused, it never runs.
    @inline(__always)
    func post(_ work: LoopWork) -> Bool {
        owner.isCurrent ? enqueueLocal(work) : enqueueRemote(work)
    }

    @inline(__always)
    private func enqueueLocal(_ work: LoopWork) -> Bool {
        guard !isClosed else { return false }
        local.append(work)
        if !isDraining && !idleStarted { startIdle() }
        return true
    }

    /// The corresponding C function is `uv_async_send`.
    private func enqueueRemote(_ work: LoopWork) -> Bool {
        inbox.withLock { inbox in
            guard inbox.isOpen else { return false }
            inbox.work.append(work)
            // Under the lock, so that close() cannot close the handle in between.
            uv_async_send(wakeup)
            return true
        }
    }

    /// True while work waits to run.
    var hasWork: Bool {
        !local.isEmpty || inbox.withLock { !$0.work.isEmpty }
    }

    /// Runs one batch: what was queued when the drain began, at most `batchLimit` jobs. Work posted meanwhile waits
    /// for the next iteration. `takingRemote` adds other threads' work. The drain right after an I/O callback skips
    /// it, and its lock: every remote post wakes the loop, and that wake-up's drain (or the idle handle's) takes it.
    func drain(takingRemote: Bool) {
        guard !isDraining else { return }
        isDraining = true
        swap(&local, &running)
        if takingRemote {
            inbox.withLock { inbox in
                running.append(contentsOf: inbox.work)
                inbox.work.removeAll(keepingCapacity: true)
            }
        }
        let count = min(running.count, JobQueue.batchLimit)
        var index = 0
        while index < count {
            run(running[index])
            index += 1
        }
        if index < running.count { local.insert(contentsOf: running[index...], at: 0) }
        running.removeAll(keepingCapacity: true)
        isDraining = false
        if local.isEmpty { stopIdle() } else { startIdle() }
    }

    /// After an I/O callback: runs the tasks it resumed now, before libuv polls again (see `Handle.callback`).
    @inline(__always)
    func drainIfNeeded() {
        if !local.isEmpty && !isDraining { drain(takingRemote: false) }
    }

    private func run(_ work: LoopWork) {
        switch work {
        case .actorJob(let job):
            job.runSynchronously(on: serialExecutor!)
        case .taskJob(let job):
            // Not isolated to the loop's serial executor: nonisolated async code then runs on without
            // switching executors at every call.
            job.runSynchronously(on: taskExecutor!)
        case .closure(let closure):
            closure()
        }
    }

    private func startIdle() {
        guard !idleStarted, !isClosed else { return }
        idleStarted = true
        uvRequire(uv_idle_start(idle, JobQueue.idled), "uv_idle_start")
    }

    private func stopIdle() {
        guard idleStarted else { return }
        idleStarted = false
        uv_idle_stop(idle)
    }

    /// While kept alive, the loop runs even with nothing else to do (work may come from other threads).
    func keepAlive(_ on: Bool) {
        keepAliveCount += on ? 1 : -1
        updateReference()
    }

    /// Lets the loop end whoever asked to keep it alive (it is being closed).
    func stopKeepingAlive() {
        keepAliveCount = 0
        updateReference()
    }

    private func updateReference() {
        guard !isClosed else { return }
        let handle = wakeup.cast(to: uv_handle_t.self)
        if keepAliveCount > 0 { uv_ref(handle) } else { uv_unref(handle) }
    }

    /// Refuses work from now on, runs what was accepted before (it was promised a run), and closes both
    /// handles; the loop must run once more for their close callbacks.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        let accepted = inbox.withLock { inbox in
            inbox.isOpen = false
            return inbox.work
        }
        let leftover = local + accepted
        local = []
        stopIdle()
        uv_close(wakeup.cast(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
        uv_close(idle.cast(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
        for work in leftover { run(work) }
    }

    private static let wokenUp: uv_async_cb = { handle in
        Loop.from(handle!.pointee.loop).jobs.drain(takingRemote: true)
    }

    private static let idled: uv_idle_cb = { handle in
        Loop.from(handle!.pointee.loop).jobs.drain(takingRemote: true)
    }
}
