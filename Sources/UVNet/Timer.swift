// One-shot and repeating timers on a loop.
import CUV

/// A timer on a loop. One handle allocation when created; nothing allocated per fire.
///
/// ```swift
/// let timer = try Timer(on: loop)
/// timer.start(after: .milliseconds(100), repeating: .seconds(1)) { print("tick") }
/// ```
/// A timer never fires early: it is due no sooner than the delay after `start` was called
/// (libuv counts in whole milliseconds, so a delay is rounded up to the next one).
public final class Timer: Handle, @unchecked Sendable {
    private var callback: (() -> Void)?

    /// Creates a stopped timer. The corresponding C function is `uv_timer_init`.
    public init(on loop: Loop) throws(UVError) {
        super.init(loop: loop, cType: uv_timer_t.self)
        try uvCheck(uv_timer_init(loop.raw, timer), "create timer")
        didOpen()
    }

    private var timer: UnsafeMutablePointer<uv_timer_t> {
        rawHandle.cast(to: uv_timer_t.self)
    }

    /// Starts (or restarts) the timer: `callback` runs after `delay`, then every `interval` if one is given.
    /// Does nothing once the timer is closing. The corresponding C function is `uv_timer_start`.
    public func start(after delay: Duration, repeating interval: Duration? = nil, _ callback: @escaping () -> Void) {
        loop.assertOnLoopThread()
        guard state == .open else { return }
        self.callback = callback
        // The loop's clock is cached per iteration; refresh it so the delay counts from now, not from
        // the start of this iteration (which would fire early).
        uv_update_time(loop.raw)
        uv_timer_start(timer, Timer.fire, Timer.milliseconds(delay), interval.map(Timer.milliseconds) ?? 0)
    }

    /// Stops the timer; it may be started again. The corresponding C function is `uv_timer_stop`.
    public func stop() {
        loop.assertOnLoopThread()
        guard state == .open else { return }
        uv_timer_stop(timer)
    }

    /// Restarts a repeating timer from now with its interval; throws `.invalidArgument` if it never
    /// started. The corresponding C function is `uv_timer_again`.
    public func again() throws(UVError) {
        loop.assertOnLoopThread()
        guard state == .open else { throw UVError.badFileDescriptor.during("restart timer") }
        uv_update_time(loop.raw)
        try uvCheck(uv_timer_again(timer), "restart timer")
    }

    /// The repeat interval; nil for a one-shot timer. Setting it takes effect at the next fire.
    /// The corresponding C functions are `uv_timer_get_repeat` and `uv_timer_set_repeat`.
    public var repeatInterval: Duration? {
        get {
            let ms = uv_timer_get_repeat(timer)
            return ms == 0 ? nil : .milliseconds(ms)
        }
        set {
            loop.assertOnLoopThread()
            uv_timer_set_repeat(timer, newValue.map(Timer.milliseconds) ?? 0)
        }
    }

    /// Time until the timer is due; zero when it is due or stopped. The corresponding C function is
    /// `uv_timer_get_due_in`.
    public var dueIn: Duration { .milliseconds(uv_timer_get_due_in(timer)) }

    override func didClose() {
        callback = nil
    }

    private static let fire: uv_timer_cb = { raw in
        Handle.callback(raw, as: Timer.self) { $0.callback?() }
    }

    /// Whole milliseconds, rounded up, plus one: the loop clock truncates to the millisecond, so
    /// without the extra one a timer could fire up to 1 ms before the delay has passed.
    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 || seconds > 0 else { return 0 }
        let nanoseconds = attoseconds / 1_000_000_000
        let wholeMilliseconds = UInt64(seconds) * 1000 + UInt64(nanoseconds / 1_000_000)
        let roundUp: UInt64 = nanoseconds % 1_000_000 == 0 ? 0 : 1
        return wholeMilliseconds + roundUp + 1
    }
}

extension Timer {
    /// A timer that fires once and then closes itself.
    static func once(after delay: Duration, on loop: Loop, _ fire: @escaping () -> Void) throws(UVError) -> Timer {
        let timer = try Timer(on: loop)
        timer.start(after: delay) {
            timer.close()
            fire()
        }
        return timer
    }
}
