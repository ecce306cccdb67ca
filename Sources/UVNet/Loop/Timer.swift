// One-shot and repeating timers on a loop.
import CUV

/// A timer on a loop. One handle allocation when created; nothing allocated per fire.
///
/// ```swift
/// let timer = try Timer(on: loop)
/// timer.start(after: .milliseconds(100), repeating: .seconds(1)) { print("tick") }
/// ```
/// A timer never fires early: its first fire is due no sooner than the delay after `start` was called
/// (libuv counts whole milliseconds from a clock it truncates, so the first delay is rounded up and
/// one millisecond added). Repeats then come every interval (rounded up to whole milliseconds), each
/// counted from the fire before. Durations beyond what libuv can count mean "never".
public final class Timer: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    private var callback: (() -> Void)?
    private var interval: Duration?

    /// Creates a stopped timer. The corresponding C function is `uv_timer_init`.
    public init(on loop: Loop) throws(UVError) {
        try super.init(loop: loop, cType: uv_timer_t.self, operation: "create timer")
        try uvCheck(uv_timer_init(loop.raw, timer), "create timer")
        didOpen()
    }

    private var timer: UnsafeMutablePointer<uv_timer_t> {
        rawHandle.cast(to: uv_timer_t.self)
    }

    /// Starts (or restarts) the timer: `callback` runs after `delay`, then every `interval` if one is given.
    /// Does nothing once the timer is closing. The corresponding C function is `uv_timer_start`.
    public func start(after delay: Duration, repeating interval: Duration? = nil, _ callback: @escaping () -> Void) {
        checkThread()
        guard lifecycle == .open else { return }
        self.callback = callback
        self.interval = interval
        // The loop's clock is cached per iteration; refresh it so the delay counts from now, not from
        // the start of this iteration (which would fire early).
        uv_update_time(loop.raw)
        uv_timer_start(timer, Timer.fire, Timer.firstDelay(delay), interval.map(Timer.milliseconds) ?? 0)
    }

    /// Stops the timer; it may be started again. The corresponding C function is `uv_timer_stop`.
    public func stop() {
        checkThread()
        guard lifecycle == .open else { return }
        uv_timer_stop(timer)
    }

    /// Restarts a repeating timer from now with its interval; throws `.invalidArgument` if it never
    /// started. The corresponding C function is `uv_timer_again`.
    public func again() throws(UVError) {
        checkThread()
        guard lifecycle == .open else { throw UVError.badFileDescriptor.during("restart timer") }
        uv_update_time(loop.raw)
        try uvCheck(uv_timer_again(timer), "restart timer")
    }

    /// The repeat interval as it was set; nil for a one-shot timer. Setting it takes effect at the next
    /// fire. The corresponding C function is `uv_timer_set_repeat`.
    public var repeatInterval: Duration? {
        get {
            checkThread()
            return interval
        }
        set {
            checkThread()
            interval = newValue
            if lifecycle == .open { uv_timer_set_repeat(timer, newValue.map(Timer.milliseconds) ?? 0) }
        }
    }

    /// Time until due; zero when due or stopped. The corresponding C function is `uv_timer_get_due_in`.
    public var dueIn: Duration {
        checkThread()
        return lifecycle == .open ? .milliseconds(uv_timer_get_due_in(timer)) : .zero
    }

    override func didEnter(_ state: State) {
        if state == .closed { callback = nil }
        super.didEnter(state)
    }

    private static let fire: uv_timer_cb = { raw in
        Handle.callback(raw, as: Timer.self) { $0.callback?() }
    }

    /// The first delay in libuv's milliseconds: rounded up, plus one, because the loop clock truncates
    /// to the millisecond and a timer due at "now + d" could otherwise fire up to 1 ms before d passed.
    static func firstDelay(_ duration: Duration) -> UInt64 {
        let (sum, overflow) = milliseconds(duration).addingReportingOverflow(1)
        return overflow ? .max : sum
    }

    /// Whole milliseconds, rounded up; negative is zero, past `UInt64` milliseconds saturates (libuv never fires it).
    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let nanoseconds = attoseconds / 1_000_000_000
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1000)
        guard !overflow else { return .max }
        let roundUp: UInt64 = nanoseconds % 1_000_000 == 0 ? 0 : 1
        let (total, carried) = whole.addingReportingOverflow(UInt64(nanoseconds / 1_000_000) + roundUp)
        return carried ? .max : total
    }
}

extension Timer {
    /// A timer that fires `fire` once after `delay` and then closes itself (close it sooner to cancel).
    ///
    /// ```swift
    /// let deadline = try Timer.once(after: .seconds(5), on: loop) { connection.close() }
    /// ```
    public static func once(after delay: Duration, on loop: Loop, _ fire: @escaping () -> Void) throws(UVError) -> Timer {
        let timer = try Timer(on: loop)
        timer.start(after: delay) {
            timer.close()
            fire()
        }
        return timer
    }
}
