// SIGINT and SIGTERM as the signal for a server to stop accepting, finish its clients and exit 0.
import UVNet

enum GracefulShutdown {
    /// Runs `shutdown` once on the first SIGINT or SIGTERM, then stops watching both so the loop can end.
    static func onSignals(on loop: Loop, _ shutdown: @escaping () -> Void) throws(UVError) {
        var signals: [Signal] = []
        let stop = {
            for signal in signals { signal.close() }
            shutdown()
        }
        signals.append(try Signal(.interrupt, on: loop, stop))
        signals.append(try Signal(.terminate, on: loop, stop))
    }
}
