// The main demo: every server started as a real process on loopback, every client run against them as
// one too, each result checked, and a table of what passed. Exit 0 only when every line did.
import ArgumentParser
import Glibc
import UVNet

struct Tour: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo tour",
        "uvdemo tour --host ::1 --load-duration 0",
    ]

    static let configuration = CommandConfiguration(
        abstract: "Run every demo against the others on loopback, as real processes, and check the results.",
        discussion: """
            Each server is this program started with the same arguments as from the shell (port 0); its \
            'listening on' line says where to find it. Each client runs as a process of its own, and what \
            it printed and its exit code are checked. At the end every server gets SIGTERM and must exit 0. \
            Exit 0 only when every check passed.
            """)

    @Option(help: "The loopback address every server listens on.") var host = "127.0.0.1"
    @Option(help: "Seconds of load at the end (0 skips it).") var loadDuration: Double = 2

    func validate() throws {
        guard loadDuration >= 0, loadDuration <= 60 else { throw ValidationError("--load-duration must be in 0...60 seconds") }
    }

    func run() throws {
        let root = try TemporaryDirectory()
        let download = try TourDownload(in: root.path)
        let certificates = try TourCertificates(in: root.path, host: host)
        let loop = try Loop()
        let (host, loadDuration, directory) = (host, loadDuration, root.path)
        let (table, failures, count) = try loop.run {
            var tour = TourChecks(loop: loop)
            try await TourRoute(
                tour: &tour, host: host, root: directory, download: download, certificates: certificates, loadDuration: loadDuration)
            await tour.stopServers()
            return (tour.table(), tour.failures, tour.count)
        }
        try loop.close()
        Console.standard.write(table)
        if failures > 0 {
            throw DemoFailure(message: "\(failures) of \(count) checks failed", exitCode: DemoFailure.remoteRefused)
        }
    }
}

/// The checks, in the order the table shows them.
private func TourRoute(
    tour: inout TourChecks, host: String, root: String, download: TourDownload, certificates: TourCertificates,
    loadDuration: Double
) async throws {
    let secret = "tour-secret"
    let listen = ["--host", host, "--port", "0"]
    let echo = await tour.start("echo-server", ["echo-server"] + listen)
    let asyncEcho = await tour.start("echo-server --api async", ["echo-server", "--api", "async"] + listen)
    let udpEcho = await tour.start("echo-server --udp", ["echo-server", "--udp"] + listen)
    let udpTime = await tour.start("time-server --udp", ["time-server", "--udp"] + listen)
    let tcpTime = await tour.start("time-server --tcp", ["time-server", "--tcp"] + listen)
    let hmacEcho = await tour.start("echo-server --secret", ["echo-server", "--secret", secret] + listen)
    let unixEcho = await tour.start("echo-server --unix", ["echo-server", "--unix", root + "/echo.sock", "--mode", "0600"])
    let forkingEcho = await tour.start("echo-server --processes 2", ["echo-server", "--processes", "2"] + listen)
    let files = await tour.start("serve", ["serve", "--root", root] + listen)
    let tlsEcho = await tour.start("echo-server --tls-cert", ["echo-server"] + certificates.serverArguments + listen)
    let secureFiles = await tour.start("serve --tls-cert", ["serve", "--root", root] + certificates.serverArguments + listen)
    let trust = ["--cacert", certificates.authority]
    let year = String(Calendar.year())
    let lines = ["one", "two", "three"]
    let echoed = "one\ntwo\nthree\n"
    let web = host.contains(":") ? "[\(host)]" : host
    let tourist = tour

    await tour.check("echo (callback)", "3 lines over TCP come back as sent", server: echo) { port in
        try expect(await tourist.client(["echo-client", "--host", host, "--port", port] + lines), echoed)
    }
    await tour.check("echo (async)", "3 lines over TCP come back as sent", server: asyncEcho) { port in
        try expect(await tourist.client(["echo-client", "--host", host, "--port", port] + lines), echoed)
    }
    await tour.check("echo (unix)", "3 lines over a Unix socket come back", server: unixEcho) { path in
        try expect(await tourist.client(["echo-client", "--unix", path] + lines), echoed)
    }
    await tour.check("echo (2 processes)", "3 lines, served by a worker process", server: forkingEcho) { port in
        try expect(await tourist.client(["echo-client", "--host", host, "--port", port] + lines), echoed)
    }
    await tour.check("echo (tls)", "3 lines over TLS, the server verified", server: tlsEcho) { port in
        try expect(await tourist.client(["echo-client", "--tls", "--host", host, "--port", port] + trust + lines), echoed)
    }
    await tour.check("echo (tls)", "an unknown CA is refused (exit 3)", server: tlsEcho) { port in
        _ = try await tourist.client(["echo-client", "--tls", "--host", host, "--port", port, "hi"], expecting: 3)
    }
    await tour.check("echo (udp)", "3 datagrams come back as sent", server: udpEcho) { port in
        try expect(await tourist.client(["echo-client", "--udp", "--host", host, "--port", port] + lines), echoed)
    }
    await tour.check("time (udp)", "'%Y' is answered with this year", server: udpTime) { port in
        try expect(await tourist.client(["time-client", "--udp", "--host", host, "--port", port, "%Y"]), year + "\n")
    }
    await tour.check("time (tcp)", "a line comes back stamped with the date", server: tcpTime) { port in
        let reply = try await tourist.client(["time-client", "--tcp", "--host", host, "--port", port, "hello"])
        guard reply.hasPrefix("["), reply.contains(year), reply.hasSuffix("] hello\n") else { throw mismatch(reply) }
    }
    await tour.check("resolve", "localhost resolves, and back (--verify)") { _ in
        let lines = try await tourist.client(["resolve", "localhost", "--verify"])
        guard lines.contains("verified: ") else { throw mismatch(lines) }
    }
    await tour.check("info", "both ends of a connection are shown", server: echo) { port in
        let lines = try await tourist.client(["info", host, port])
        guard lines.contains("Connected from \(web):"), lines.contains("Connected to \(web):\(port)") else {
            throw mismatch(lines)
        }
    }
    await tour.check("hmac echo", "the right key is served", server: hmacEcho) { port in
        try expect(await tourist.client(["echo-client", "--host", host, "--port", port, "--secret", secret, "signed"]), "signed\n")
    }
    await tour.check("hmac echo", "a wrong key is refused (exit 1)", server: hmacEcho) { port in
        _ = try await tourist.client(["echo-client", "--host", host, "--port", port, "--secret", "wrong", "signed"], expecting: 1)
    }
    await tour.check("serve + fetch", "8 MiB file, SHA-256 verified", server: files) { port in
        let saved = root + "/fetched.bin"
        try expect(await tourist.client(["fetch", "http://\(web):\(port)/\(download.name)", "-o", saved]), "")
        guard try TourDownload.digest(of: saved) == download.digest else { throw TourFailure("SHA-256 differs") }
    }
    await tour.check("serve + fetch", "a directory redirects to its index.html", server: files) { port in
        try expect(await tourist.client(["fetch", "http://\(web):\(port)/pages"]), TourDownload.indexPage)
    }
    await tour.check("https", "8 MiB over TLS, SHA-256 verified", server: secureFiles) { port in
        let saved = root + "/fetched-over-tls.bin"
        try expect(await tourist.client(["fetch", "https://\(web):\(port)/\(download.name)", "-o", saved] + trust), "")
        guard try TourDownload.digest(of: saved) == download.digest else { throw TourFailure("SHA-256 differs") }
    }
    if loadDuration > 0 {
        await tour.measure("load", "\(fixed(loadDuration)) s of ping-pong, every byte checked", server: echo) { port in
            let report = try await tourist.client(
                ["load", "--host", host, "--port", port, "--duration", "\(loadDuration)", "--connections", "4"])
            guard let figures = report.split(separator: ": ").dropFirst().first?.split(separator: ", latency").first else {
                throw mismatch(report)
            }
            return String(figures)
        }
    }
}

private func expect(_ output: String, _ expected: String) throws {
    guard output == expected else { throw mismatch(output) }
}

private func mismatch(_ output: String) -> TourFailure {
    let shown = output.count > 60 ? output.prefix(60) + "…" : output[...]
    return TourFailure("unexpected output '\(shown.replacing("\n", with: "\\n"))'")
}

private enum Calendar {
    static func year() -> Int {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return Int(parts.tm_year) + 1900
    }
}
