// The loop's queue of work from Swift concurrency and from other threads, drained on the loop's thread.
import CUV

/// Work for the loop's thread: a job of an actor on the loop, a job of a task that prefers the loop,
/// or a closure from `Loop.execute`.
enum LoopWork: @unchecked Sendable {
    case actorJob(UnownedJob)
    case taskJob(UnownedJob)
    case closure(@Sendable () -> Void)
}

/// Two queues feed the loop. Work enqueued on the loop's own thread (a continuation resumed by an I/O
/// callback, say) goes to a plain array and runs at the end of that callback or, failing that, from an
/// idle handle before the loop next polls: no lock, no system call. Work from other threads goes through
/// a lock and wakes the loop with `uv_async_send`, whose wake-ups merge: each wake-up drains everything.
final class JobQueue: @unchecked Sendable {
    /// Work from other threads; nil once the queue is closed (then work is refused, not lost silently:
    /// `Loop.execute` documents that work posted after `close()` never runs).
    private let remote = Locked<[LoopWork]?>([])
    @exclusivity(unchecked)
    private var local: [LoopWork] = []
    @exclusivity(unchecked)
    private var isDraining = false
    @exclusivity(unchecked)
    private var idleStarted = false
    private var keepAliveCount = 0
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let idle: UnsafeMutablePointer<uv_idle_t>
    private var isClosed = false

    init(loop: UnsafeMutablePointer<uv_loop_t>) throws(UVError) {
        wakeup = .allocate(capacity: 1)
        idle = .allocate(capacity: 1)
        try uvCheck(uv_async_init(loop, wakeup, JobQueue.wokenUp), "create the loop's wake-up handle")
        uv_idle_init(loop, idle)
        // No Swift handle behind these: Loop.close knows them by the nil and closes them itself.
        wakeup.pointee.data = nil
        idle.pointee.data = nil
        // Neither keeps the loop running by itself: a loop with nothing else to do may end.
        uv_unref(wakeup.cast(to: uv_handle_t.self))
        uv_unref(idle.cast(to: uv_handle_t.self))
    }

    /// Adds work from the loop's thread.
    @inline(__always)
    func enqueueLocal(_ work: LoopWork) {
        local.append(work)
        if !isDraining && !idleStarted {
            idleStarted = true
            uv_idle_start(idle, JobQueue.idled)
        }
    }

    /// Adds work from any other thread and wakes the loop. The corresponding C function is `uv_async_send`.
    func enqueueRemote(_ work: LoopWork) {
        remote.withLock { queue in
            guard queue != nil else { return }
            queue!.append(work)
            // Under the lock, so that close() cannot close the handle in between.
            uv_async_send(wakeup)
        }
    }

    /// Runs what is queued, and whatever that enqueues, until both queues are empty.
    func drain(on loop: Loop) {
        guard !isDraining else { return }
        isDraining = true
        defer { isDraining = false }
        while true {
            if local.isEmpty {
                let fromOtherThreads = remote.withLock { queue in
                    defer { queue?.removeAll(keepingCapacity: true) }
                    return queue ?? []
                }
                guard !fromOtherThreads.isEmpty else { break }
                local = fromOtherThreads
            }
            var index = 0
            while index < local.count {
                run(local[index], on: loop)
                index += 1
            }
            local.removeAll(keepingCapacity: true)
        }
        if idleStarted {
            idleStarted = false
            uv_idle_stop(idle)
        }
    }

    @inline(__always)
    func drainIfNeeded(on loop: Loop) {
        if !local.isEmpty && !isDraining { drain(on: loop) }
    }

    private func run(_ work: LoopWork, on loop: Loop) {
        switch work {
        case .actorJob(let job):
            job.runSynchronously(on: loop.asUnownedSerialExecutor())
        case .taskJob(let job):
            // Not isolated to the loop's serial executor: nonisolated async code then runs on without
            // switching executors at every call.
            job.runSynchronously(on: loop.taskExecutor.asUnownedTaskExecutor())
        case .closure(let closure):
            closure()
        }
    }

    /// While kept alive, the loop runs even with nothing else to do (work may come from other threads).
    func keepAlive(_ on: Bool) {
        keepAliveCount += on ? 1 : -1
        let handle = wakeup.cast(to: uv_handle_t.self)
        if keepAliveCount > 0 { uv_ref(handle) } else { uv_unref(handle) }
    }

    /// Closes both handles; the loop must run once more for their close callbacks.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        remote.withLock { $0 = nil }
        uv_close(wakeup.cast(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
        uv_close(idle.cast(to: uv_handle_t.self)) { UnsafeMutableRawPointer($0)?.deallocate() }
    }

    private static let wokenUp: uv_async_cb = { handle in
        let loop = Loop.from(handle!.pointee.loop)
        loop.jobs.drain(on: loop)
    }

    private static let idled: uv_idle_cb = { handle in
        let loop = Loop.from(handle!.pointee.loop)
        loop.jobs.drain(on: loop)
    }
}
