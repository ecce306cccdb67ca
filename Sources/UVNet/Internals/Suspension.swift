// Turning a callback operation into an awaitable one: resume exactly once, cancel cleanly.
import CUV

/// The one continuation of a suspended operation, touched only on the loop's thread. Whatever comes
/// first, the operation's end, its timeout or the task's cancellation, resumes; the rest find it spent.
final class Wake<Value: Sendable>: @unchecked Sendable {
    fileprivate var continuation: UnsafeContinuation<Value, any Error>?
    fileprivate var canceledEarly = false

    /// Resumes the waiting task; does nothing after the first time.
    func resume(_ result: Result<Value, any Error>) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(with: result)
    }

    var isPending: Bool { continuation != nil }
}

extension Loop {
    /// Suspends the calling task until `start` (run on the loop's thread) resumes the wake. When the task
    /// is canceled, `cancel` runs on the loop's thread: it should end the operation and resume the wake.
    @inline(__always)
    func suspend<Value: Sendable>(
        start: @escaping @Sendable (Wake<Value>) -> Void,
        cancel: @escaping @Sendable (Wake<Value>) -> Void
    ) async throws -> Value {
        let wake = Wake<Value>()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                @Sendable func begin() {
                    wake.continuation = continuation
                    if wake.canceledEarly {
                        wake.resume(.failure(CancellationError()))
                    } else {
                        start(wake)
                    }
                }
                // Called directly on the loop's thread (the common case, as when a task reads): only
                // the hop from another thread needs an escaping closure, and so an allocation.
                if isOnLoopThread { begin() } else { onLoopThread { begin() } }
            }
        } onCancel: {
            onLoopThread {
                if wake.isPending { cancel(wake) } else { wake.canceledEarly = true }
            }
        }
    }
}
