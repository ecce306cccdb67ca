// Turning a callback operation into an awaitable one: resume exactly once; cancellation and timeouts
// end a wait the same way; a closing loop fails every wait still pending.
import CUV
import Synchronization

/// A task waiting on a loop, registered there so that closing the loop can fail it, not leave it hanging.
@_spi(StreamLayers) public class PendingWait {
    /// Where this wait sits in its loop's `PendingWaits`; -1 when not registered.
    fileprivate var slot = -1
    /// The task whose cancellation scope stops this wait (see `Loop.withCancellationScope`); 0 for none.
    fileprivate var coveringTask: UInt = 0

    /// Ends the wait with `error` (does nothing once it has ended).
    func fail(_ error: any Error) {}
}

/// The waits of one loop. An array with each wait's index stored in it: adding and removing cost a
/// few stores, with no hashing and no allocation once the array has grown.
struct PendingWaits {
    private var waits: [PendingWait] = []

    mutating func add(_ wait: PendingWait) {
        wait.slot = waits.count
        waits.append(wait)
    }

    mutating func remove(_ wait: PendingWait) {
        let slot = wait.slot
        guard slot >= 0 else { return }
        let last = waits.removeLast()
        if last !== wait {
            waits[slot] = last
            last.slot = slot
        }
        wait.slot = -1
    }

    /// The waits a cancellation scope covers, for the caller to fail.
    func covered(by task: UInt) -> [PendingWait] {
        waits.filter { $0.coveringTask == task }
    }

    /// Takes every wait out, for the caller to fail (failing one may add or remove others).
    mutating func takeAll() -> [PendingWait] {
        let all = waits
        waits = []
        for wait in all { wait.slot = -1 }
        return all
    }
}

/// How long an await may take, and the error it ends with when that is up.
@_spi(StreamLayers) public struct Timeout: Sendable {
    let duration: Duration
    let error: @Sendable () -> UVError

    /// A timeout of `duration` ending the wait with `.timedOut`, named by `operation`, `target` and `detail`.
    public init(_ duration: Duration, operation: String, target: @escaping @Sendable () -> String?, detail: String) {
        self.duration = duration
        error = { UVError(UV_ETIMEDOUT.rawValue, operation: operation, target: target(), detail: detail) }
    }
}

/// The one continuation of a suspended operation. Whatever comes first, the operation's end, its
/// timeout or the task's cancellation, resumes; the rest find it spent.
///
/// A wake may be reused for one wait after another (a sequence's consumer keeps one, so a `next()` allocates nothing).
/// Its waits are numbered: a cancellation or timeout meant for an earlier wait finds a newer number and does nothing.
@_spi(StreamLayers) public final class Wake<Value: Sendable>: PendingWait, @unchecked Sendable {  // used on its loop's thread only (`resume` checks), but for `asked`, an atomic
    private let loop: Loop
    private var continuation: UnsafeContinuation<Value, any Error>?
    /// The number of the wait begun last (0: none yet).
    private var wait = 0
    /// The number of the wait asked for last, on the waiting task's side (atomic: that may be any thread).
    private let asked = Atomic<Int>(0)
    /// A stop (cancellation) that came before its wait began.
    private var stoppedEarly: (wait: Int, reason: any Error)?
    private var deadline: Timer?
    /// How to let go of the operation when the wait ends before it does.
    private var abandon: (@Sendable () -> Void)?

    init(loop: Loop) {
        self.loop = loop
    }

    /// Resumes the waiting task; does nothing after the first time.
    public func resume(_ result: Result<Value, any Error>) {
        loop.checkOnLoopThread("resuming a suspended task")
        guard let continuation else { return }
        self.continuation = nil
        coveringTask = 0
        abandon = nil
        deadline?.close()
        deadline = nil
        loop.pendingWaits.remove(self)
        continuation.resume(with: result)
    }

    /// True until resumed.
    public var isPending: Bool { continuation != nil }

    /// The loop is closing: the wait ends with `error`, and the operation is let go of.
    override func fail(_ error: any Error) {
        stop(error, wait: wait)
    }

    /// On the waiting task, before it suspends: the number of its new wait. One wait at a time: a
    /// wake's owner awaits each wait before it asks for the next.
    fileprivate func ask() -> Int {
        asked.add(1, ordering: .relaxed).newValue
    }

    /// On the loop's thread: starts the operation, then arms the timeout if it did not finish at once.
    fileprivate func begin(
        _ continuation: UnsafeContinuation<Value, any Error>, wait: Int, timeout: Timeout?, coveredBy task: UInt = 0,
        _ start: (Wake<Value>) -> Void, abandon: @escaping @Sendable () -> Void
    ) {
        precondition(self.continuation == nil, "UVNet: a second wait on a wake already waiting; one next() at a time per iterator")
        self.continuation = continuation
        self.wait = wait
        coveringTask = task
        // A loop that has failed its waits for good takes no new ones.
        guard loop.acceptsWaits else { return resume(.failure(UVError.loopClosed)) }
        if let early = stoppedEarly {
            stoppedEarly = nil
            if early.wait == wait { return resume(.failure(early.reason)) }
        }
        loop.pendingWaits.add(self)
        self.abandon = abandon
        start(self)
        guard isPending, let timeout else { return }
        do {
            deadline = try Timer.once(after: timeout.duration, on: loop) { [self] in stop(timeout.error(), wait: wait) }
        } catch {
            stop(error, wait: wait)
        }
    }

    /// On the loop's thread: ends wait number `wait` with `reason` and lets go of the operation; a stop
    /// for a wait not begun yet waits for it, and one for an earlier wait does nothing.
    fileprivate func stop(_ reason: any Error, wait: Int) {
        guard wait <= self.wait else { return stoppedEarly = (wait, reason) }
        guard wait == self.wait, isPending else { return }
        let abandon = abandon
        resume(.failure(reason))
        abandon?()
    }
}

extension Loop {
    /// Suspends the calling task until `start` (run on the loop's thread) resumes the wake.
    ///
    /// Cancellation and `timeout` end the wait alike: the wake is resumed with the reason (`CancellationError`, or the
    /// timeout's error), then `abandon` runs on the loop's thread to let go of the operation (close an attempt, stop
    /// waiting for an item). What the operation did before that stays done: no byte already handed over is taken back.
    @inline(__always)
    @_spi(StreamLayers) public func suspend<Value: Sendable>(
        timeout: Timeout? = nil,
        _ start: @escaping @Sendable (Wake<Value>) -> Void,
        abandon: @escaping @Sendable () -> Void
    ) async throws -> Value {
        try await suspend(reusing: Wake<Value>(loop: self), timeout: timeout, start, abandon: abandon)
    }

    /// `suspend(timeout:_:abandon:)` with a wake kept for one wait after another (by a sequence's
    /// consumer, say), so that suspending allocates none. One wait at a time per wake.
    @inline(__always)
    func suspend<Value: Sendable>(
        reusing wake: Wake<Value>,
        timeout: Timeout? = nil,
        _ start: @escaping @Sendable (Wake<Value>) -> Void,
        abandon: @escaping @Sendable () -> Void
    ) async throws -> Value {
        let wait = wake.ask()
        if isOnLoopThread, let scope = CancellationScope.current, scope.covers(self) {
            // The task's scope stops this wait if the task is canceled: no handler of its own (see
            // `withCancellationScope`). A cancellation before now is seen here; one after, by the scope,
            // which runs on this thread and so only once the wait is registered.
            if cuv_task_is_canceled(scope.task) { throw CancellationError() }
            return try await withUnsafeThrowingContinuation { continuation in
                wake.begin(continuation, wait: wait, timeout: timeout, coveredBy: scope.task, start, abandon: abandon)
            }
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                // Called directly on the loop's thread (the common case, as when a task reads): only
                // the hop from another thread needs an escaping closure, and so an allocation.
                if isOnLoopThread {
                    wake.begin(continuation, wait: wait, timeout: timeout, start, abandon: abandon)
                } else if !post(.closure({ wake.begin(continuation, wait: wait, timeout: timeout, start, abandon: abandon) })) {
                    continuation.resume(throwing: UVError.loopClosed)
                }
            }
        } onCancel: {
            // Refused only by a closed loop, which has failed every wait already.
            _ = runOnLoopThread { wake.stop(CancellationError(), wait: wait) }
        }
    }

    /// Suspends until `start` resumes the wake, whatever happens to the task: for operations that end
    /// soon anyway and whose outcome must be told as it is (a close, a datagram handed to the kernel).
    func suspendUntilDone<Value: Sendable>(_ start: @escaping @Sendable (Wake<Value>) -> Void) async throws -> Value {
        let wake = Wake<Value>(loop: self)
        let wait = wake.ask()
        return try await withUnsafeThrowingContinuation { continuation in
            if !runOnLoopThread({ wake.begin(continuation, wait: wait, timeout: nil, start, abandon: {}) }) {
                continuation.resume(throwing: UVError.loopClosed)
            }
        }
    }
}

/// One cancellation handler for a task's whole stay on a loop, in place of one per await: see
/// `Loop.withCancellationScope`. Child tasks inherit it as a task-local value, so it covers only the task that opened
/// it (by address), and only while open (so that a later task at the same address finds it closed).
final class CancellationScope: Sendable {
    let loop: Loop
    /// The covered task's address.
    let task: UInt
    private let open = Atomic<Bool>(true)

    init(loop: Loop, task: UInt) {
        self.loop = loop
        self.task = task
    }

    @TaskLocal static var current: CancellationScope?

    /// The current task's address; 0 outside a task.
    @inline(__always)
    static var currentTask: UInt {
        cuv_current_task()
    }

    /// True when a wait on `loop` made now, by the current task, is this scope's to cancel.
    @inline(__always)
    func covers(_ loop: Loop) -> Bool {
        self.loop === loop && open.load(ordering: .relaxed) && task == Self.currentTask
    }

    func close() {
        open.store(false, ordering: .relaxed)
    }
}

extension Loop {
    /// Runs `body` with one cancellation handler for all the waits the current task makes on this loop's thread
    /// meanwhile, instead of one handler per await. Canceling the task stops the wait in progress with
    /// `CancellationError`, as an await's own handler would, and every later wait throws it at once. (An await's own
    /// handler costs some 1,900 instructions: two updates of the task's status under its lock, two executor checks, an
    /// allocation; see Benchmarks/async-floor.) The scoped servers run each connection's handler in one.
    @_spi(StreamLayers) public func withCancellationScope<Result: Sendable>(
        _ body: () async throws -> Result
    ) async throws -> Result {
        let task = CancellationScope.currentTask
        guard task != 0 else { return try await body() }
        let scope = CancellationScope(loop: self, task: task)
        defer { scope.close() }
        return try await CancellationScope.$current.withValue(scope) {
            try await withTaskCancellationHandler {
                try await body()
            } onCancel: {
                // Refused only by a closed loop, which has failed every wait already.
                _ = runOnLoopThread { [self] in
                    for wait in pendingWaits.covered(by: task) { wait.fail(CancellationError()) }
                }
            }
        }
    }
}

/// The result of an operation already started on the loop's thread (a write already queued), for one task to await: it
/// finds the result there, or waits for it. A wait that ends early (cancellation, timeout) leaves the operation going.
/// What `ByteStream.writeOrQueue(_:)` returns. Used on the loop's thread only, as the stream that made it is.
public final class Awaited<Value: Sendable>: @unchecked Sendable {  // loop thread only: `value` gets there through `Loop.suspend`, and `Wake.resume` checks; `complete` runs in the stream's callbacks there
    private var result: Result<Value, any Error>?
    private var waiter: Wake<Value>?

    /// The operation's end.
    public init() {}

    /// Ends the wait with `result`; does nothing after the first time.
    public func complete<Failure: Error>(_ result: Result<Value, Failure>) {
        if let waiter {
            self.waiter = nil
            waiter.resume(result.mapError { $0 })
        } else {
            self.result = result.mapError { $0 }
        }
    }

    /// Nil when the operation has ended well already (it throws if it failed), else itself, to await.
    public func unlessDone() throws -> Awaited? {
        guard let result else { return self }
        _ = try result.get()
        return nil
    }

    /// Returns (or throws) the operation's result once it is there; a task on `loop`'s thread waits without a hop.
    public func value(on loop: Loop) async throws -> Value {
        try await loop.suspend(
            { [self] wake in
                if let result { return wake.resume(result) }
                waiter = wake
            },
            abandon: { [self] in waiter = nil })
    }
}
