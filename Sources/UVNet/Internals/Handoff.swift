// One value handed from one thread to others that wait for it, blocking or with await.
import CUV

/// A value delivered once (by a loop's thread, say) to whoever waits for it: a thread that blocks
/// (`wait()`) or a task that suspends (`await value()`), before or after the delivery.
final class Handoff<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var tasks: [UnsafeContinuation<Value, Never>] = []
        var threads: [Semaphore] = []
    }

    private let state = Locked(State())

    /// Delivers `value` to every waiter, present and future. Only the first delivery counts.
    func deliver(_ value: Value) {
        let (tasks, threads) = state.withLock { state -> ([UnsafeContinuation<Value, Never>], [Semaphore]) in
            guard state.value == nil else { return ([], []) }
            state.value = value
            defer { (state.tasks, state.threads) = ([], []) }
            return (state.tasks, state.threads)
        }
        for task in tasks { task.resume(returning: value) }
        for thread in threads { thread.signal() }
    }

    /// Blocks the calling thread until the value is there.
    func wait() -> Value {
        let semaphore = Semaphore()
        let ready = state.withLock { state -> Value? in
            if state.value == nil { state.threads.append(semaphore) }
            return state.value
        }
        if let ready { return ready }
        semaphore.wait()
        return state.withLock { $0.value! }
    }

    /// Suspends the calling task until the value is there.
    func value() async -> Value {
        await withUnsafeContinuation { continuation in
            let ready = state.withLock { state -> Value? in
                if state.value == nil { state.tasks.append(continuation) }
                return state.value
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// A libuv semaphore on the heap, where it cannot move.
final class Semaphore: @unchecked Sendable {  // its one stored pointer never changes; the semaphore it points to is used only through uv_sem_post/uv_sem_wait, which synchronize by themselves
    private let raw = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)

    init() { uvRequire(uv_sem_init(raw, 0), "uv_sem_init") }

    deinit {
        uv_sem_destroy(raw)
        raw.deallocate()
    }

    /// The corresponding C function is `uv_sem_post`.
    func signal() { uv_sem_post(raw) }
    /// The corresponding C function is `uv_sem_wait`.
    func wait() { uv_sem_wait(raw) }
}
