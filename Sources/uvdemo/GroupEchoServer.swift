// The TCP echo server on several loops (threads) at once, sharing one port through SO_REUSEPORT.
import Synchronization
import UVNet

enum GroupEchoServer {
    /// Serves on `loopCount` loops until SIGINT or SIGTERM, then shuts every loop down gracefully.
    static func serve(
        loopCount: Int, at address: SocketAddress, api: EchoServer.API, lines: Bool, secret: String?, verbose: Bool
    ) throws {
        let group = try LoopGroup(loopCount: loopCount)
        let stops = Mutex<[LoopStop]>([])
        let bound: SocketAddress
        do {
            bound = try group.listen(on: address) { listener in
                let finish: () -> Void
                switch api {
                case .callback:
                    let service = TCPEchoService(lines: lines, secret: secret, verbose: verbose)
                    listener.accept { service.accepted($0) }
                    finish = { service.finish() }
                case .async:
                    let open = OpenConnections(on: listener.loop)
                    Task(executorPreference: listener.loop.taskExecutor) {
                        await AsyncEchoService.serve(listener, open, lines: lines, secret: secret, verbose: verbose)
                    }
                    finish = { open.endReadingAll() }
                }
                let stop = LoopStop(loop: listener.loop, listener: listener, finish: LoopBound(finish, on: listener.loop))
                stops.withLock { $0.append(stop) }
            }
        } catch {
            group.shutdown()
            throw error
        }
        // The main thread's own loop waits for the signal; the group's loops do the serving.
        let main = try Loop()
        // Each loop stops accepting at once and ends its connections after the grace period; the main
        // loop waits for the group's threads, which end when their last connection has.
        try GracefulShutdown.onSignals(on: main, stopAccepting: {
            for each in stops.withLock({ $0 }) {
                // A loop that is closed already has nothing left to stop.
                try? each.loop.execute {
                    each.listener.close()
                    // Unreferenced: a loop whose clients are done sooner does not wait for it.
                    let deadline = try? Timer(on: each.loop)
                    deadline?.unref()
                    deadline?.start(after: GracefulShutdown.grace) {
                        deadline?.close()
                        each.finish.value()
                    }
                }
            }
            group.shutdownGracefully()
        })
        Output.listening(on: bound)
        main.run()
        try main.close()
    }
}

/// How to stop serving on one loop; `finish` runs on that loop's thread only.
private struct LoopStop: Sendable {
    let loop: Loop
    let listener: TCPListener
    let finish: LoopBound<() -> Void>
}
