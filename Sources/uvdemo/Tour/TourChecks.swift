// The tour's bookkeeping: the servers it started (real processes), each check run and timed, and the
// table at the end.
import UVNet

/// A server the tour started, and where it listens (a port, or a Unix socket's path).
struct TourServer: Sendable {
    let process: DemoProcess
    let address: String
}

struct TourChecks {
    private struct Row {
        let demo: String
        let checked: String
        let result: String
        let passed: Bool
        let milliseconds: Int
    }

    /// How long a server may take to say it is listening, and a client to finish.
    static let startTimeout: Duration = .seconds(10)
    static let clientTimeout: Duration = .seconds(30)

    let loop: Loop
    private var rows: [Row] = []
    private var servers: [DemoProcess] = []

    init(loop: Loop) {
        self.loop = loop
    }

    var count: Int { rows.count }
    var failures: Int { rows.filter { !$0.passed }.count }

    /// Starts `uvdemo ARGUMENTS…` and waits for its `listening on …` line. If it does not start, every
    /// check that needs it fails with the reason, and it is stopped.
    mutating func start(_ name: String, _ arguments: [String]) async -> Result<TourServer, TourFailure> {
        do {
            let process = try DemoProcess(name, arguments, on: loop)
            guard let line = try await process.firstLine(within: Self.startTimeout), line.hasPrefix("listening on ") else {
                process.signal(.kill)
                let why = (try? await process.ending(within: .seconds(5)))?.lastError ?? "no 'listening on' line"
                return .failure(TourFailure("\(name) did not start: \(why)"))
            }
            let address = String(line.dropFirst("listening on ".count))
            let port = address.hasPrefix("unix:") ? String(address.dropFirst(5)) : String(address.split(separator: ":").last ?? "")
            servers.append(process)
            return .success(TourServer(process: process, address: port))
        } catch {
            return .failure(TourFailure("\(name) did not start: \(error)"))
        }
    }

    /// Runs `uvdemo ARGUMENTS…` to its end; returns its stdout, or throws naming how it failed.
    func client(_ arguments: [String], expecting status: Int32 = 0) async throws -> String {
        let process = try DemoProcess(arguments.first ?? "client", arguments, on: loop)
        let ending = try await process.ending(within: Self.clientTimeout)
        guard ending.termination == .exited(status) else {
            throw TourFailure("\(arguments.first ?? "") ended with \(ending.termination): \(ending.lastError)")
        }
        return ending.output
    }

    /// Runs `body` with the server's address (when it needs a server) and records how it went.
    mutating func check(
        _ demo: String, _ checked: String, server: Result<TourServer, TourFailure>? = nil,
        _ body: (String) async throws -> Void
    ) async {
        await measure(demo, checked, server: server) { address -> String in
            try await body(address)
            return "passed"
        }
    }

    /// Like `check`, with what `body` measured shown instead of "passed".
    mutating func measure(
        _ demo: String, _ checked: String, server: Result<TourServer, TourFailure>? = nil,
        _ body: (String) async throws -> String
    ) async {
        let clock = ContinuousClock()
        let started = clock.now
        var address = ""
        switch server {
        case nil: break
        case .success(let needed): address = needed.address
        case .failure(let failure):
            return rows.append(Row(demo: demo, checked: checked, result: "FAILED: \(failure)", passed: false, milliseconds: 0))
        }
        let result: String
        let passed: Bool
        do {
            result = try await body(address)
            passed = true
        } catch let failure as DemoFailure {
            (result, passed) = ("FAILED: \(failure.message)", false)
        } catch {
            (result, passed) = ("FAILED: \(error)", false)
        }
        rows.append(Row(demo: demo, checked: checked, result: result, passed: passed,
                        milliseconds: Int((clock.now - started).seconds * 1000)))
    }

    /// Sends SIGTERM, as a user would, and checks that every server stops gracefully and exits 0.
    mutating func stopServers() async {
        let servers = servers
        await check("shutdown", "SIGTERM stops all \(servers.count) servers, exit 0") { _ in
            for server in servers { server.signal() }
            for server in servers {
                let ending = try await server.ending(within: .seconds(10))
                guard ending.termination == .exited(0) else {
                    throw TourFailure("\(server.name) ended with \(ending.termination): \(ending.lastError)")
                }
            }
        }
    }

    /// The results, one line per check, in aligned columns.
    func table() -> String {
        let demoWidth = rows.map(\.demo.count).max().map { max($0, 4) } ?? 4
        let checkedWidth = rows.map(\.checked.count).max().map { max($0, 7) } ?? 7
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        var lines = ["\(pad("demo", demoWidth))  \(pad("checked", checkedWidth))  \(pad("time", 8))  result"]
        for row in rows {
            lines.append("\(pad(row.demo, demoWidth))  \(pad(row.checked, checkedWidth))  \(pad("\(row.milliseconds) ms", 8))  \(row.result)")
        }
        lines.append(failures == 0 ? "all \(rows.count) checks passed" : "\(failures) of \(rows.count) checks FAILED")
        return lines.joined(separator: "\n") + "\n"
    }
}
