// SIGINT and SIGTERM (or anything else that says so) as the signal for a server to stop accepting, let
// its clients finish, and exit 0.
import UVNet

/// A server's graceful stop: on the first SIGINT or SIGTERM, or `stop()`, it runs `stopAccepting` at
/// once, stops watching signals, and runs `finish` if connections are still open after `grace`.
/// The loop then ends when the last one closes.
final class GracefulShutdown {
    /// How long clients get to finish after the signal before their connections are ended.
    static let grace: Duration = .seconds(5)

    private let stopAccepting: () -> Void
    private let finish: () -> Void
    private var signals: [Signal] = []
    private let deadline: Timer
    private var isStopping = false

    /// Watches SIGINT and SIGTERM on `loop`.
    @discardableResult
    init(on loop: Loop, stopAccepting: @escaping () -> Void, finish: @escaping () -> Void = {}) throws(UVError) {
        self.stopAccepting = stopAccepting
        self.finish = finish
        deadline = try Timer(on: loop)
        // Unreferenced: if every client is done sooner, the loop does not wait for the deadline.
        deadline.unref()
        // The signals hold the shutdown (and so keep it alive) until it stops and closes them.
        signals = [
            try Signal(.interrupt, on: loop) { [self] in stop() },
            try Signal(.terminate, on: loop) { [self] in stop() },
        ]
    }

    /// Stops now, as a signal would; only the first call counts.
    func stop() {
        guard !isStopping else { return }
        isStopping = true
        for signal in signals { signal.close() }
        stopAccepting()
        deadline.start(after: Self.grace) { [deadline, finish] in
            deadline.close()
            finish()
        }
    }
}
