// SIGINT and SIGTERM as the signal for a server to stop accepting, let its clients finish, and exit 0.
import UVNet

enum GracefulShutdown {
    /// How long clients get to finish after the signal before their connections are ended.
    static let grace: Duration = .seconds(5)

    /// On the first SIGINT or SIGTERM: runs `stopAccepting` at once, stops watching signals, and runs
    /// `finish` if connections are still open after `grace`. The loop then ends when the last one closes.
    static func onSignals(
        on loop: Loop, stopAccepting: @escaping () -> Void, finish: @escaping () -> Void = {}
    ) throws(UVError) {
        var signals: [Signal] = []
        let deadline = try Timer(on: loop)
        let stop = {
            for signal in signals { signal.close() }
            stopAccepting()
            // Unreferenced: if every client is done sooner, the loop does not wait for the deadline.
            deadline.unref()
            deadline.start(after: grace) {
                deadline.close()
                finish()
            }
        }
        signals.append(try Signal(.interrupt, on: loop, stop))
        signals.append(try Signal(.terminate, on: loop, stop))
        deadline.unref()
    }
}
