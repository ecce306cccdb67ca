// A value behind a lock, for the few things several threads touch (the loop's queue from other threads).
import CUV

/// A value guarded by a libuv mutex (a pthread mutex: ThreadSanitizer sees it, where it cannot see the
/// raw futex under the standard library's `Mutex` on Linux and reports races that are not there).
final class Locked<Value>: @unchecked Sendable {  // every access to `value` holds `mutex` (withLock)
    /// On the heap: a mutex must not move, and `&` on a stored property may hand C a temporary copy.
    private let mutex = UnsafeMutablePointer<uv_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        uvRequire(uv_mutex_init(mutex), "uv_mutex_init")
    }

    deinit {
        uv_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` under the lock. The corresponding C functions are `uv_mutex_lock` and `uv_mutex_unlock`.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        uv_mutex_lock(mutex)
        defer { uv_mutex_unlock(mutex) }
        return try body(&value)
    }
}
