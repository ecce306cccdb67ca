// The lifecycle every libuv handle shares: open, closing, closed, with one close completion.
import CUV

/// The base of every UVNet handle (`TCPListener`, `TCPConnection`, `Timer`, `Signal`).
///
/// An open handle keeps itself alive, so you need not hold a reference to a server connection or a
/// timer while it works. `close()` lets it go: after the close completion no callback of the handle
/// ever runs again. A handle is used on its loop's thread only.
public class Handle: @unchecked Sendable {
    /// Where a handle is in its life.
    public enum State: Sendable {
        case open, closing, closed
    }

    /// The loop this handle belongs to.
    public let loop: Loop
    /// Where the handle is in its life.
    // Read on every I/O call and only ever touched on the loop's thread: the dynamic exclusivity
    // check would cost more than the rest of a read callback.
    @exclusivity(unchecked)
    public private(set) var state: State = .closed
    let rawHandle: UnsafeMutablePointer<uv_handle_t>
    private var closeCompletions: [() -> Void] = []
    /// Internal parties that must hear of a close before libuv's callback (a waiting async reader).
    private var closeObservers: [() -> Void] = []

    /// Allocates memory for a handle of C type `T`; the subclass initializes it with `uv_*_init`, then
    /// calls `didOpen()`. The memory never moves and is freed only after libuv's close callback.
    init<T>(loop: Loop, cType: T.Type) {
        self.loop = loop
        let memory = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        rawHandle = memory.bindMemory(to: uv_handle_t.self, capacity: 1)
        loop.assertOnLoopThread()
    }

    deinit {
        rawHandle.deallocate()
    }

    /// Marks the handle open and retains it in `handle->data` until libuv's close callback.
    final func didOpen() {
        rawHandle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        state = .open
    }

    /// Closes the handle. Idempotent: every completion passed runs exactly once, after libuv's close
    /// callback (at once if the handle is already closed). The corresponding C function is `uv_close`.
    public final func close(_ completion: (() -> Void)? = nil) {
        beginClosing(completion) { uv_close($0, $1) }
    }

    /// Starts closing with `start` (`uv_close`, or `uv_tcp_close_reset`), unless already closing.
    final func beginClosing(
        _ completion: (() -> Void)?,
        _ start: (UnsafeMutablePointer<uv_handle_t>, uv_close_cb) -> Void
    ) {
        loop.assertOnLoopThread()
        switch state {
        case .closed:
            completion?()
        case .closing:
            if let completion { closeCompletions.append(completion) }
        case .open:
            if let completion { closeCompletions.append(completion) }
            state = .closing
            willClose()
            let observers = closeObservers
            closeObservers = []
            for observer in observers { observer() }
            start(rawHandle, Handle.closeCallback)
        }
    }

    private static let closeCallback: uv_close_cb = { raw in
        // Balances the retain taken in didOpen: the last moment libuv knows this memory.
        let handle = Unmanaged<Handle>.fromOpaque(raw!.pointee.data).takeRetainedValue()
        raw!.pointee.data = nil
        handle.finishClosing()
        handle.runResumedTasks()
    }

    private func finishClosing() {
        state = .closed
        didClose()
        let completions = closeCompletions
        closeCompletions = []
        for completion in completions { completion() }
    }

    /// Runs the tasks this callback resumed now, before returning to libuv, instead of in the loop's
    /// next iteration: an async reader sees its bytes without another trip through epoll.
    @inline(__always)
    final func runResumedTasks() {
        loop.jobs.drainIfNeeded(on: loop)
    }

    /// Calls `observer` when the handle starts closing (at once if it already has).
    final func observeClose(_ observer: @escaping () -> Void) {
        if state == .open { closeObservers.append(observer) } else { observer() }
    }

    /// Subclass hook: the handle starts closing (stop timers it owns, release companion handles).
    func willClose() {}

    /// Subclass hook: libuv is done with the handle; drop user callbacks so reference cycles break.
    func didClose() {}

    /// True while the handle is open and active (a listening socket, a started timer, a reading stream).
    /// The corresponding C function is `uv_is_active`.
    public final var isActive: Bool {
        state == .open && uv_is_active(rawHandle) != 0
    }

    /// Lets the loop's `run()` return even while this handle is active. The corresponding C function is `uv_unref`.
    public final func unref() {
        loop.assertOnLoopThread()
        if state != .closed { uv_unref(rawHandle) }
    }

    /// Makes the loop's `run()` wait for this handle again. The corresponding C function is `uv_ref`.
    public final func ref() {
        loop.assertOnLoopThread()
        if state != .closed { uv_ref(rawHandle) }
    }

    /// Whether this handle keeps the loop running. The corresponding C function is `uv_has_ref`.
    public final var hasRef: Bool {
        state != .closed && uv_has_ref(rawHandle) != 0
    }

    /// The one way libuv callbacks reach their Swift handle: runs `body` with it (not retained: an open
    /// handle is kept alive by its own `handle->data` reference while libuv calls back), then runs the
    /// tasks the callback resumed, before returning to libuv, instead of in the loop's next iteration:
    /// an async reader sees its bytes without another trip through epoll.
    @inline(__always)
    static func callback<T: Handle>(_ raw: UnsafeMutableRawPointer?, as type: T.Type, _ body: (T) -> Void) {
        let handle = raw!.assumingMemoryBound(to: uv_handle_t.self)
        Unmanaged<T>.fromOpaque(handle.pointee.data)._withUnsafeGuaranteedRef { this in
            body(this)
            this.runResumedTasks()
        }
    }
}

extension Handle {
    /// Closes the handle and returns once libuv has let go of it (see `close(_:)`). It closes even in a
    /// canceled task: cleanup must not be skipped, and a close always completes, quickly.
    public func close() async {
        await withUnsafeContinuation { (done: UnsafeContinuation<Void, Never>) in
            loop.onLoopThread { [self] in close { done.resume() } }
        }
    }
}
