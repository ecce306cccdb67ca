// The seeds' forking server, the way Node's cluster does it: the parent binds, starts workers (copies of
// this program) and hands each the listening socket over an IPC pipe; the workers accept and serve.
import Glibc
import UVNet

enum Prefork {
    /// The descriptor a worker finds its IPC pipe to the parent on.
    static let channelDescriptor: CInt = 3

    /// The parent: binds `address`, starts `processes` workers (this program run with
    /// `workerArguments`), hands each the listening socket, and replaces a worker that dies. On SIGINT
    /// or SIGTERM it stops every worker and fails unless each stopped cleanly.
    static func serve(processes: Int, at address: SocketAddress, workerArguments: [String]) throws {
        let console = Console.standard
        let loop = try Loop()
        // The parent never accepts on it (libuv watches a listener only once somebody asks for a
        // connection): the workers do, the kernel spreading the connections among them.
        let listener = try TCPListener(on: loop, address: address)
        let pool = WorkerPool(listener: listener, arguments: workerArguments, console: console)
        for _ in 0..<processes { try pool.startWorker() }
        try GracefulShutdown(on: loop, stopAccepting: { pool.stop() })
        console.listening(on: try listener.localAddress)
        loop.run()
        try loop.close()
        if pool.uncleanStops > 0 {
            throw DemoFailure(message: "\(pool.uncleanStops) of \(processes) workers did not stop cleanly",
                              exitCode: DemoFailure.networkFailure)
        }
    }

    /// A worker: takes the listening socket from the parent and serves it like a server of its own
    /// (on `loops` loops), until SIGINT, SIGTERM, or the parent going away.
    static func work(loops: Int, behavior: EchoBehavior) throws {
        let console = Console.standard.prefixed("worker \(getpid()): ")
        let loop = try Loop()
        let channel = try UnixConnection(adopting: channelDescriptor, on: loop, ipc: true)
        guard let listener = try receiveListener(over: channel) else {
            throw DemoFailure(message: "worker \(getpid()): the parent sent no listening socket",
                              exitCode: DemoFailure.networkFailure)
        }
        // The parent gone (its end of the pipe closed) stops this worker as SIGTERM would.
        let watchParent = { (shutdown: GracefulShutdown) in
            channel.startReading { if case .failure = $0 { shutdown.stop() } }
        }
        guard loops > 1 else {
            let finish = behavior.start(on: listener, console: console)
            let shutdown = try GracefulShutdown(on: loop, stopAccepting: {
                listener.close()
                channel.close()
            }, finish: finish)
            watchParent(shutdown)
            loop.run()
            return try loop.close()
        }
        try GroupEchoServer.serve(loops: loops, behavior: behavior, console: console, main: loop) { group, setUp in
            // Every loop accepts on its own copy of the one listening socket.
            for each in group.loops {
                let descriptor = try listener.duplicateDescriptor()
                try each.execute {
                    do {
                        setUp(try TCPListener(adopting: descriptor, on: each))
                    } catch {
                        console.error("\(error)")
                    }
                }
            }
            listener.close()
        } announce: { shutdown in
            watchParent(shutdown)
        }
        channel.close()
    }

    /// Runs the loop until the parent's listening socket arrives (nil if the pipe ends first).
    private static func receiveListener(over channel: UnixConnection) throws -> TCPListener? {
        var received: TCPListener?
        var failure: UVError?
        channel.startReading { result in
            do throws(UVError) {
                _ = try result.get()
                if case .listener(let listener) = try channel.takeReceivedHandle() { received = listener }
            } catch {
                failure = error
            }
            if received != nil || failure != nil {
                channel.stopReading()
                channel.loop.stop()
            }
        }
        channel.loop.run()
        if let failure, failure != .eof { throw failure }
        return received
    }
}

/// The parent's workers: started, handed the listening socket, replaced when one dies, stopped.
final class WorkerPool {
    private let listener: TCPListener
    private let arguments: [String]
    private let console: Console
    private var workers: [Int32: ChildProcess] = [:]
    private var isStopping = false
    /// Workers that did not exit 0 when told to stop.
    private(set) var uncleanStops = 0

    init(listener: TCPListener, arguments: [String], console: Console) {
        self.listener = listener
        self.arguments = arguments
        self.console = console
    }

    /// This process's environment, and `UV_TCP_SINGLE_ACCEPT=1`: libuv accepts until the backlog is empty,
    /// so the first worker to wake would take every waiting connection; with it, each worker accepts one
    /// and yields, and the connections spread over the workers.
    private static let workerEnvironment = ChildProcess.currentEnvironment.merging(["UV_TCP_SINGLE_ACCEPT": "1"]) { $1 }

    /// Starts one worker and hands it the listening socket on its descriptor 3, an IPC pipe. The pipe
    /// stays open: its end tells the worker when the parent is gone.
    func startWorker() throws {
        var processID: Int32 = 0
        let worker = try ChildProcess(
            on: listener.loop, executable: ThisProgram.path, arguments: arguments, environment: Self.workerEnvironment,
            descriptors: [.ignore, .inherit, .inherit, .ipcPipe]
        ) { [unowned self] termination in ended(processID, termination) }
        processID = worker.processID
        workers[processID] = worker
        worker.pipe(Int(Prefork.channelDescriptor))?.send(listener) { [console] sent in
            if case .failure(let error) = sent {
                console.error("worker \(processID): \(error)")
                try? worker.kill(.kill)
            }
        }
    }

    /// Tells every worker to stop (SIGTERM: they finish their clients, then exit 0).
    func stop() {
        isStopping = true
        for worker in workers.values { try? worker.kill(.terminate) }
        if workers.isEmpty { listener.close() }
    }

    private func ended(_ processID: Int32, _ termination: ChildProcess.Termination) {
        workers.removeValue(forKey: processID)?.pipe(Int(Prefork.channelDescriptor))?.close()
        if isStopping {
            if termination != .exited(0) {
                uncleanStops += 1
                console.error("worker \(processID) stopped with \(termination)")
            }
            if workers.isEmpty { listener.close() }
            return
        }
        console.error("worker \(processID) ended with \(termination); starting another")
        do {
            try startWorker()
        } catch {
            console.error("\(error)")
            if workers.isEmpty { listener.close() }
        }
    }
}
