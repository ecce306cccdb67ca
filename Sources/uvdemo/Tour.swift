// The main demo: every server started in this process on loopback, every client run against them,
// each result checked, and a table of what passed. Exit 0 only when every line did.
import ArgumentParser
import Crypto
import Glibc

struct Tour: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every demo against the others on loopback, in one process, and check the results.",
        discussion: """
            Servers run on threads of their own, started with the same arguments as from the shell (port 0); \
            clients run one after another against them; at the end a SIGTERM stops every server gracefully. \
            Exit 0 only when every check passed.
            """)

    @Option(help: "Seconds of load at the end (0 skips it).") var loadDuration: Double = 2

    func validate() throws {
        guard loadDuration >= 0, loadDuration <= 60 else { throw ValidationError("--load-duration must be in 0...60 seconds") }
    }

    func run() throws {
        let root = try TemporaryDirectory()
        let download = try TourDownload(in: root.path)
        let secret = "tour-secret"
        var tour = TourChecks()

        let echo = tour.start("echo-server", EchoServer.self, ["--port", "0"])
        let asyncEcho = tour.start("echo-server --api async", EchoServer.self, ["--port", "0", "--api", "async"])
        let udpEcho = tour.start("echo-server --udp", EchoServer.self, ["--udp", "--port", "0"])
        let udpTime = tour.start("time-server --udp", TimeServer.self, ["--udp", "--port", "0"])
        let tcpTime = tour.start("time-server --tcp", TimeServer.self, ["--tcp", "--port", "0"])
        let hmacEcho = tour.start("echo-server --secret", EchoServer.self, ["--port", "0", "--secret", secret])
        let files = tour.start("serve", Serve.self, ["--root", root.path, "--port", "0"])
        let year = String(Calendar.year())

        tour.check("echo (callback)", "3 lines over TCP come back as sent", server: echo) { port in
            try expect(printed(by: EchoClient.self, ["--port", port, "one", "two", "three"]), "one\ntwo\nthree\n")
        }
        tour.check("echo (async)", "3 lines over TCP come back as sent", server: asyncEcho) { port in
            try expect(printed(by: EchoClient.self, ["--port", port, "one", "two", "three"]), "one\ntwo\nthree\n")
        }
        tour.check("echo (udp)", "3 datagrams come back as sent", server: udpEcho) { port in
            try expect(printed(by: EchoClient.self, ["--udp", "--port", port, "one", "two", "three"]), "one\ntwo\nthree\n")
        }
        tour.check("time (udp)", "'%Y' is answered with this year", server: udpTime) { port in
            try expect(printed(by: TimeClient.self, ["--udp", "--port", port, "%Y"]), year + "\n")
        }
        tour.check("time (tcp)", "a line comes back stamped with the date", server: tcpTime) { port in
            let reply = try printed(by: TimeClient.self, ["--tcp", "--port", port, "hello"])
            guard reply.hasPrefix("["), reply.contains(year), reply.hasSuffix("] hello\n") else { throw mismatch(reply) }
        }
        tour.check("resolve", "localhost resolves, and back (--verify)") { _ in
            let lines = try printed(by: Resolve.self, ["localhost", "--verify"])
            guard lines.contains("verified: ") else { throw mismatch(lines) }
        }
        tour.check("info", "both ends of a connection are shown", server: echo) { port in
            let lines = try printed(by: Info.self, ["127.0.0.1", port])
            guard lines.contains("Connected from 127.0.0.1:"), lines.contains("Connected to 127.0.0.1:\(port)") else {
                throw mismatch(lines)
            }
        }
        tour.check("hmac echo", "the right key is served", server: hmacEcho) { port in
            try expect(printed(by: EchoClient.self, ["--port", port, "--secret", secret, "signed"]), "signed\n")
        }
        tour.check("hmac echo", "a wrong key is refused (exit 1)", server: hmacEcho) { port in
            do {
                _ = try printed(by: EchoClient.self, ["--port", port, "--secret", "wrong", "signed"])
                throw TourFailure("a wrong key was served")
            } catch let failure as DemoFailure where failure.exitCode == DemoFailure.remoteRefused {}
        }
        tour.check("serve + fetch", "8 MiB file, SHA-256 verified", server: files) { port in
            let saved = root.path + "/fetched.bin"
            try expect(printed(by: Fetch.self, ["http://127.0.0.1:\(port)/\(download.name)", "-o", saved]), "")
            guard try TourDownload.digest(of: saved) == download.digest else { throw TourFailure("SHA-256 differs") }
        }
        tour.check("serve + fetch", "a directory redirects to its index.html", server: files) { port in
            try expect(printed(by: Fetch.self, ["http://127.0.0.1:\(port)/pages"]), TourDownload.indexPage)
        }
        if loadDuration > 0 {
            tour.measure("load", "\(fixed(loadDuration)) s of ping-pong, every byte checked", server: echo) { port in
                let report = try printed(by: Load.self, ["--port", port, "--duration", "\(loadDuration)", "--connections", "4"])
                guard let figures = report.split(separator: ": ").dropFirst().first?.split(separator: ", latency").first else {
                    throw mismatch(report)
                }
                return String(figures)
            }
        }
        tour.stopServers()
        Output.write(tour.table())
        if tour.failures > 0 {
            throw DemoFailure(message: "\(tour.failures) of \(tour.count) checks failed", exitCode: DemoFailure.remoteRefused)
        }
    }
}

/// Runs a client demo on this thread with its output captured; returns its stdout, throws its failure.
private func printed<Command: ParsableCommand>(by command: Command.Type, _ arguments: [String]) throws -> String {
    let output = try CapturedOutput()
    try Output.redirecting(to: output.streams) {
        var client = try command.parse(arguments)
        try client.run()
    }
    return output.standardOutput
}

private func expect(_ output: String, _ expected: String) throws {
    guard output == expected else { throw mismatch(output) }
}

private func mismatch(_ output: String) -> TourFailure {
    let shown = output.count > 60 ? output.prefix(60) + "…" : output[...]
    return TourFailure("unexpected output '\(shown.replacing("\n", with: "\\n"))'")
}

struct TourFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private enum Calendar {
    static func year() -> Int {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return Int(parts.tm_year) + 1900
    }
}
