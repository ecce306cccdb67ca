// POSIX signals (SIGINT, SIGTERM, …) delivered as loop events, for graceful shutdown.
import CUV
import Glibc

/// Watches one signal and runs a callback on the loop's thread when it arrives.
///
/// ```swift
/// let interrupt = try Signal(.interrupt, on: loop) { listener.close() }
/// ```
/// While a `Signal` is open the process no longer dies of that signal: the callback decides.
/// Creating one unblocks the signal on the calling thread, in case the process inherited it blocked.
public final class Signal: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    /// A signal number with Swift names for the usual ones.
    public struct Number: RawRepresentable, Hashable, Sendable {
        public let rawValue: CInt
        public init(rawValue: CInt) { self.rawValue = rawValue }
        /// `SIGINT`, sent by Ctrl-C.
        public static var interrupt: Number { .init(rawValue: SIGINT) }
        /// `SIGTERM`, the polite request to stop.
        public static var terminate: Number { .init(rawValue: SIGTERM) }
        /// `SIGHUP`.
        public static var hangup: Number { .init(rawValue: SIGHUP) }
        /// `SIGUSR1`, free for an application's own use (reload, dump state, …).
        public static var user1: Number { .init(rawValue: SIGUSR1) }
        /// `SIGUSR2`, free for an application's own use.
        public static var user2: Number { .init(rawValue: SIGUSR2) }
        /// `SIGKILL`, which cannot be caught (to send, not to watch).
        public static var kill: Number { .init(rawValue: SIGKILL) }
    }

    /// The signal watched.
    public let number: Number
    private var callback: (() -> Void)?

    /// Starts watching `number`. The corresponding C functions are `uv_signal_init` and `uv_signal_start`.
    public init(_ number: Number, on loop: Loop, _ callback: @escaping () -> Void) throws(UVError) {
        self.number = number
        self.callback = callback
        try super.init(loop: loop, cType: uv_signal_t.self, operation: "watch signal")
        let signal = rawHandle.cast(to: uv_signal_t.self)
        try uvCheck(uv_signal_init(loop.raw, signal), "watch signal", target: "\(number.rawValue)")
        didOpen()
        Signal.unblock(number)
        do {
            try uvCheck(uv_signal_start(signal, Signal.deliver, number.rawValue), "watch signal", target: "\(number.rawValue)")
        } catch {
            close()
            throw error
        }
    }

    /// A process started from a thread that blocks signals (a dispatch or test-runner worker, say)
    /// inherits that mask, and a blocked signal would never reach libuv. Asking for it means wanting it.
    private static func unblock(_ number: Number) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number.rawValue)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    override func didEnter(_ state: State) {
        if state == .closed { callback = nil }
        super.didEnter(state)
    }

    private static let deliver: uv_signal_cb = { raw, _ in
        Handle.callback(raw, as: Signal.self) { $0.callback?() }
    }
}
