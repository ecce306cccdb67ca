// The lifecycle every libuv handle shares: open, closing, closed, with one close completion.
import CUV

/// The base of every UVNet handle (`TCPListener`, `TCPConnection`, `UDPSocket`, `Timer`, `Signal`).
///
/// An open handle keeps itself alive, so you need not hold a reference to a server connection or a timer while it
/// works. `close()` lets it go: after the close completion no callback of the handle ever runs again.
///
/// A handle belongs to its loop's thread. It is `Sendable`, so tasks can carry it, but every method and property
/// checks that it runs on that thread and traps, naming the method and both threads, when it does not (release builds
/// too). From other threads use the async API, which goes to the loop's thread by itself, or `loop.execute { … }`.
public class Handle: LoopClosable, @unchecked Sendable {  // every member checks the loop's thread (`checkThread`) before touching state
    /// Where a handle is in its life.
    public enum State: Sendable {
        case open, closing, closed
    }

    public let loop: Loop
    /// Where the handle is in its life, unchecked: for UVNet's own code, already on the loop's thread.
    // Read on every I/O call: the dynamic exclusivity check would cost more than the rest of a read callback.
    @exclusivity(unchecked)
    private(set) var lifecycle: State = .closed
    let rawHandle: UnsafeMutablePointer<uv_handle_t>
    private var closeCompletions: [() -> Void] = []

    /// Allocates memory for a handle of C type `T`; the subclass initializes it with `uv_*_init`, then
    /// calls `didOpen()`. The memory never moves and is freed only after libuv's close callback.
    /// Throws `.loopClosed` (naming `operation`) on a closed loop.
    init<T>(loop: Loop, cType: T.Type, operation: @autoclosure () -> String) throws(UVError) {
        loop.checkOnLoopThread("\(Self.self).init")
        guard loop.acceptsHandles else { throw UVError.loopClosed.during(operation()) }
        self.loop = loop
        let memory = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        rawHandle = memory.bindMemory(to: uv_handle_t.self, capacity: 1)
    }

    deinit {
        rawHandle.deallocate()
    }

    /// Traps unless called on the loop's thread, naming `function` of this handle's type. On the hot
    /// path of every call: a load and a compare inline, the message built only on the way to the trap.
    @inline(__always)
    final func checkThread(_ function: StaticString = #function) {
        if _slowPath(!loop.owner.isCurrent) { calledOffLoopThread(function) }
    }

    @inline(never)
    private final func calledOffLoopThread(_ function: StaticString) -> Never {
        offLoopThread("\(type(of: self)).\(function)", owner: loop.owner)
    }

    /// Throws `.badFileDescriptor` naming `operation` unless the handle is open: on a closing or closed
    /// handle, libuv's descriptor is gone, and some calls (a UDP bind) would quietly make a new one.
    @inline(__always)
    final func checkOpen(_ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil) throws(UVError) {
        if lifecycle != .open { throw UVError.badFileDescriptor.during(operation(), target: target()) }
    }

    /// Runs `call`, a libuv call on this open handle (a bind, an option), checked as every handle method is: on the
    /// loop's thread (a trap names `function`), on an open handle, its error named by `operation` and `target`.
    @inline(__always)
    final func perform(
        _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil,
        function: StaticString = #function, _ call: () -> CInt
    ) throws(UVError) {
        checkThread(function)
        try checkOpen(operation(), target: target())
        try uvCheck(call(), operation(), target: target())
    }

    /// The handle's descriptor, for what libuv has no call for (a socket option, a descriptor to
    /// duplicate). The corresponding C function is `uv_fileno`.
    final func descriptor(_ operation: @autoclosure () -> String) throws(UVError) -> CInt {
        var fd: uv_os_fd_t = -1
        try uvCheck(uv_fileno(rawHandle, &fd), operation())
        return fd
    }

    /// Whom errors about the handle's socket name: a connection's peer; nobody in particular otherwise.
    var errorTarget: String? { nil }

    /// Where the handle is in its life.
    public final var state: State {
        checkThread()
        return lifecycle
    }

    /// Marks the handle open and retains it in `handle->data` until libuv's close callback.
    final func didOpen() {
        rawHandle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        lifecycle = .open
    }

    /// Closes the handle. Idempotent: every completion passed runs exactly once, after libuv's close
    /// callback (at once if the handle is already closed). The corresponding C function is `uv_close`.
    public final func close(_ completion: (() -> Void)? = nil) {
        checkThread()
        beginClosing(completion) { uv_close($0, $1) }
    }

    /// Runs `observer` once the handle has closed, whoever closed it (its owner, or the loop's
    /// `close()`), at once if it has; the handle holds `observer` until then. How a layer over a handle
    /// (TLS over a stream) ends with it, and stays alive as long as it is open.
    public final func whenClosed(_ observer: @escaping () -> Void) {
        checkThread()
        if lifecycle == .closed { return observer() }
        closeCompletions.append(observer)
    }

    /// Starts closing with `start` (`uv_close`, or `uv_tcp_close_reset`), unless already closing.
    final func beginClosing(
        _ completion: (() -> Void)?,
        _ start: (UnsafeMutablePointer<uv_handle_t>, uv_close_cb) -> Void
    ) {
        switch lifecycle {
        case .closed:
            completion?()
        case .closing:
            if let completion { closeCompletions.append(completion) }
        case .open:
            if let completion { closeCompletions.append(completion) }
            lifecycle = .closing
            didEnter(.closing)
            start(rawHandle, Handle.closeCallback)
        }
    }

    private static let closeCallback: uv_close_cb = { raw in
        // Balances the retain taken in didOpen: the last moment libuv knows this memory.
        let handle = Unmanaged<Handle>.fromOpaque(raw!.pointee.data).takeRetainedValue()
        raw!.pointee.data = nil
        handle.finishClosing()
        handle.loop.jobs.drainIfNeeded()
    }

    private func finishClosing() {
        lifecycle = .closed
        didEnter(.closed)
        let completions = closeCompletions
        closeCompletions = []
        for completion in completions { completion() }
    }

    /// A handle type's one lifecycle hook, called on entering `.closing` (stop what it owns, end its sequences) and
    /// `.closed` (libuv is done: drop user callbacks and the cycles through them). Overrides call `super`.
    func didEnter(_ state: State) {}

    /// True while the handle is open and active (a listening socket, a started timer, a reading stream).
    /// The corresponding C function is `uv_is_active`.
    public final var isActive: Bool {
        checkThread()
        return lifecycle == .open && uv_is_active(rawHandle) != 0
    }

    /// Lets the loop's `run()` return even while this handle is active. The corresponding C function is `uv_unref`.
    public final func unref() {
        checkThread()
        if lifecycle != .closed { uv_unref(rawHandle) }
    }

    /// Makes the loop's `run()` wait for this handle again. The corresponding C function is `uv_ref`.
    public final func ref() {
        checkThread()
        if lifecycle != .closed { uv_ref(rawHandle) }
    }

    /// Whether this handle keeps the loop running. The corresponding C function is `uv_has_ref`.
    public final var hasRef: Bool {
        checkThread()
        return lifecycle != .closed && uv_has_ref(rawHandle) != 0
    }

    /// The one way libuv callbacks reach their Swift handle: runs `body` with it (not retained: an open handle's own
    /// `handle->data` reference keeps it alive), then runs the tasks the callback resumed, before returning to libuv,
    /// instead of in the loop's next iteration: an async reader sees its bytes without another trip through epoll.
    @inline(__always)
    static func callback<T: Handle>(_ raw: UnsafeMutableRawPointer?, as type: T.Type, _ body: (T) -> Void) {
        let handle = raw!.assumingMemoryBound(to: uv_handle_t.self)
        Unmanaged<T>.fromOpaque(handle.pointee.data)._withUnsafeGuaranteedRef { this in
            body(this)
            this.loop.jobs.drainIfNeeded()
        }
    }
}
