// The echo server on several loops (threads) at once, each with a listener of its own on one port
// (SO_REUSEPORT), or each a copy of one listening socket (in a pre-fork worker).
import Synchronization
import UVNet

enum GroupEchoServer {
    /// Serves on `loops` loops until SIGINT or SIGTERM (caught on `main`, this thread's loop), then lets
    /// every loop end gracefully. `listen` makes each loop's listener and calls `setUp` with it on its
    /// loop's thread; `announce` runs once everything is ready, with the shutdown (to trigger it by
    /// other means too).
    static func serve(
        loops: Int, behavior: EchoBehavior, console: Console, main: Loop? = nil,
        listen: (LoopGroup, @escaping @Sendable (TCPListener) -> Void) throws -> Void,
        announce: (GracefulShutdown) throws -> Void
    ) throws {
        let group = try LoopGroup(loopCount: loops)
        let stops = Mutex<[LoopStop]>([])
        do {
            try listen(group) { listener in
                let finish = behavior.start(on: listener, console: console)
                stops.withLock { $0.append(LoopStop(listener: listener, finish: finish)) }
            }
        } catch {
            group.shutdown()
            throw error
        }
        let main = try main ?? Loop()
        // Each loop stops accepting at once and ends its connections after the grace period; the main
        // loop waits for the group's threads, which end when their last connection has.
        let shutdown = try GracefulShutdown(on: main, stopAccepting: {
            for stop in stops.withLock({ $0 }) { stop.begin() }
            group.shutdownGracefully()
        })
        try announce(shutdown)
        main.run()
        try main.close()
    }
}

/// How to stop serving on one loop.
private struct LoopStop: Sendable {
    let listener: TCPListener
    let finish: @Sendable () -> Void

    /// From another thread: closes the listener on its loop, and finishes its connections after the
    /// grace period (unreferenced: a loop whose clients are done sooner does not wait for it).
    func begin() {
        let loop = listener.loop
        // A loop that is closed already has nothing left to stop.
        try? loop.execute { [listener, finish] in
            listener.close()
            let deadline = try? Timer(on: loop)
            deadline?.unref()
            deadline?.start(after: GracefulShutdown.grace) {
                deadline?.close()
                finish()
            }
        }
    }
}
