// The seeds' echo servers: every byte a TCP or Unix-domain client sends, and every datagram, comes back
// to its sender; on one loop, on several (threads), or in several worker processes.
import ArgumentParser
import UVNet
import UVNetTLS

struct EchoServer: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo echo-server --port 9000 --verbose",
        "uvdemo echo-server --unix /tmp/echo.sock --mode 0660 --api async",
        "uvdemo echo-server --tls-cert cert.pem --tls-key key.pem --port 9443",
    ]

    static let configuration = CommandConfiguration(
        commandName: "echo-server", abstract: "Echo every byte (or datagram) back to whoever sent it.",
        discussion: """
            Prints 'listening on HOST:PORT' (or 'unix:PATH') once it accepts. SIGINT or SIGTERM stops \
            accepting, lets clients finish (up to 5 s) and exits 0. With --processes N the server binds, \
            starts N workers (copies of itself) and hands each the listening socket; a worker that dies is \
            replaced, and SIGTERM stops them all.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 9000
    @Option(help: "Listen on this Unix-domain socket path instead (@name: Linux's abstract namespace).")
    var unix: String?
    @Option(help: "With --unix: the socket file's permissions, in octal (e.g. 0660).") var mode: String?
    @Flag var transport: Transport = .tcp
    @Option(help: "Serve with the callback API or with async/await.") var api: API = .callback
    @Option(help: "Loops (threads) serving together, through SO_REUSEPORT.") var loops = 1
    @Option(help: "TCP: worker processes sharing the listening socket (a pre-fork server).") var processes = 1
    @Flag(help: "Echo line by line, each line in upper case (line framing).") var lines = false
    @Option(help: "Serve only clients that answer an HMAC-SHA256 challenge with this shared key.")
    var secret: String?
    @OptionGroup var tls: TLSServerOptions
    @OptionGroup var threadPool: ThreadPoolOption
    @Flag(help: "Log connects and disconnects to stderr.") var verbose = false
    @Flag(help: .hidden) var worker = false

    enum API: String, ExpressibleByArgument, CaseIterable, Sendable {
        case callback, async
    }

    func validate() throws {
        guard (1...256).contains(loops) else { throw ValidationError("--loops must be in 1...256") }
        guard (1...64).contains(processes) else { throw ValidationError("--processes must be in 1...64") }
        guard transport == .tcp || (loops == 1 && processes == 1 && !lines && secret == nil && unix == nil) else {
            throw ValidationError("--loops, --processes, --lines, --secret and --unix are for streams, not --udp")
        }
        guard processes == 1 || unix == nil else { throw ValidationError("--processes is for TCP") }
        guard mode == nil || unix != nil else { throw ValidationError("--mode goes with --unix") }
        guard mode.map({ UInt32($0, radix: 8).map { $0 <= 0o777 } ?? false }) ?? true else {
            throw ValidationError("--mode must be octal permissions, e.g. 0660")
        }
        guard secret == nil || !lines else { throw ValidationError("--secret and --lines do not combine") }
        guard secret?.isEmpty != true else { throw ValidationError("--secret must not be empty") }
        guard transport == .tcp || !tls.isEnabled else { throw ValidationError("--tls-cert is for streams, not --udp") }
    }

    func run() throws {
        threadPool.apply()
        let console = Console.standard
        let behavior = EchoBehavior(api: api, lines: lines, secret: secret, tls: try tls.context(), verbose: verbose)
        if worker { return try Prefork.work(loops: loops, behavior: behavior) }
        if let unix { return try serveUnix(at: unix, behavior: behavior, console: console) }
        let address = try DemoFailure.address(host: host, port: port)
        if transport == .udp { return try DatagramEcho.serve(at: address, console: console) }
        if processes > 1 { return try Prefork.serve(processes: processes, at: address, workerArguments: workerArguments) }
        if loops > 1 {
            var bound: SocketAddress?
            return try GroupEchoServer.serve(loops: loops, behavior: behavior, console: console) { group, setUp in
                bound = try group.listen(on: address, setUp)
            } announce: { _ in
                if let bound { console.listening(on: bound) }
            }
        }
        let loop = try Loop()
        try SingleLoopEcho.serve(try TCPListener(on: loop, address: address), behavior: behavior, console: console) {
            console.listening(on: try $0.localAddress)
        }
    }

    private func serveUnix(at path: String, behavior: EchoBehavior, console: Console) throws {
        let permissions = mode.flatMap { UInt32($0, radix: 8) }
        if loops > 1 {
            throw ValidationError("--loops is for TCP (one Unix socket path is served by one loop)")
        }
        let loop = try Loop()
        try SingleLoopEcho.serve(try UnixListener(on: loop, path: path, mode: permissions), behavior: behavior, console: console) {
            console.listening(onPath: $0.path)
        }
    }

    /// What each worker of --processes runs: this command again, told it is a worker.
    private var workerArguments: [String] {
        var arguments = ["echo-server", "--worker", "--api", api.rawValue, "--loops", "\(loops)"]
        if lines { arguments.append("--lines") }
        if let secret { arguments += ["--secret", secret] }
        if verbose { arguments.append("--verbose") }
        return arguments + tls.arguments
    }
}

/// How the echo server answers on a stream, whatever it listens on: plain bytes, lines in upper
/// case, or after an HMAC challenge; over TLS or not; with the callback API or async/await.
struct EchoBehavior: Sendable {
    let api: EchoServer.API
    let lines: Bool
    let secret: String?
    /// Set to serve over TLS.
    let tls: TLSContext?
    let verbose: Bool

    /// Starts serving `listener` on its loop's thread; returns how to end its connections gracefully.
    func start<Listener: ConnectionListener>(on listener: Listener, console: Console) -> @Sendable () -> Void {
        let secure = tls.map { TLSListener(listener, context: $0) }
        switch api {
        case .callback:
            let service = CallbackEchoService(on: listener.loop, behavior: self, console: console)
            if let secure {
                secure.accept { service.accepted($0) }
            } else {
                listener.accept { service.accepted($0) }
            }
            return { service.finish() }
        case .async:
            let open = OpenConnections(on: listener.loop)
            // Two calls rather than one on an `any ConnectionSource`: each is specialized for its kind
            // of connection, where an existential would leave every read and write generic.
            Task(executorPreference: listener.loop.taskExecutor) {
                if let secure {
                    await AsyncEchoService.serve(secure, open, behavior: self, console: console)
                } else {
                    await AsyncEchoService.serve(listener, open, behavior: self, console: console)
                }
            }
            return { open.endReadingAll() }
        }
    }
}

/// One loop serving one listener until SIGINT or SIGTERM.
enum SingleLoopEcho {
    static func serve<Listener: ConnectionListener>(
        _ listener: Listener, behavior: EchoBehavior, console: Console, announce: (Listener) throws -> Void
    ) throws {
        let finish = behavior.start(on: listener, console: console)
        try GracefulShutdown(on: listener.loop, stopAccepting: { listener.close() }, finish: finish)
        // Last, so that whoever waits for this line may signal us at once.
        try announce(listener)
        listener.loop.run()
        try listener.loop.close()
    }
}
