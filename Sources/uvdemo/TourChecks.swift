// The tour's bookkeeping: the servers it started, each check run and timed, and the table at the end.
import ArgumentParser
import Glibc

struct TourChecks {
    private struct Row {
        let demo: String
        let checked: String
        let result: String
        let passed: Bool
        let milliseconds: Int
    }

    private var rows: [Row] = []
    private var servers: [ServerThread] = []

    var count: Int { rows.count }
    var failures: Int { rows.filter { !$0.passed }.count }

    /// Starts a server demo. If it did not start, every check that needs it fails with the reason.
    mutating func start<Command: ParsableCommand>(
        _ name: String, _ command: Command.Type, _ arguments: [String]
    ) -> Result<ServerThread, DemoFailure> {
        let started = Result { () throws(DemoFailure) in try ServerThread(name, command, arguments) }
        if case .success(let server) = started { servers.append(server) }
        return started
    }

    /// Runs `body` with the server's port (when it needs a server) and records how it went.
    mutating func check(_ demo: String, _ checked: String, server: Result<ServerThread, DemoFailure>? = nil, _ body: (String) throws -> Void) {
        measure(demo, checked, server: server) { port -> String in
            try body(port)
            return "passed"
        }
    }

    /// Like `check`, with what `body` measured shown instead of "passed".
    mutating func measure(
        _ demo: String, _ checked: String, server: Result<ServerThread, DemoFailure>? = nil, _ body: (String) throws -> String
    ) {
        let clock = ContinuousClock()
        let started = clock.now
        var port = ""
        switch server {
        case nil: break
        case .success(let needed): port = String(needed.port)
        case .failure(let failure):
            return rows.append(Row(demo: demo, checked: checked, result: "FAILED: \(failure.message)", passed: false, milliseconds: 0))
        }
        let result: String
        let passed: Bool
        do {
            result = try body(port)
            passed = true
        } catch {
            result = "FAILED: \(error.message)"
            passed = false
        }
        rows.append(Row(demo: demo, checked: checked, result: result, passed: passed,
                        milliseconds: Int((clock.now - started).seconds * 1000)))
    }

    /// Sends SIGTERM, as a user would, and checks that every server stops gracefully and exits 0.
    mutating func stopServers() {
        let servers = servers
        let running = servers.filter { $0.result == nil }
        check("shutdown", "SIGTERM stops all \(servers.count) servers, exit 0") { _ in
            // Only while a server watches SIGTERM: with no watcher left, the signal would end the tour.
            if !running.isEmpty { kill(getpid(), SIGTERM) }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while servers.contains(where: { $0.result == nil }) && clock.now < deadline {
                usleep(10_000)
            }
            for server in servers {
                switch server.result {
                case nil: throw TourFailure("\(server.name) still running after 10 s")
                case .failure(let failure): throw TourFailure("\(server.name) failed: \(failure.message)")
                case .success: continue
                }
            }
        }
    }

    /// The results, one line per check, in aligned columns.
    func table() -> String {
        let header = Row(demo: "demo", checked: "checked", result: "result", passed: true, milliseconds: 0)
        let demoWidth = rows.map(\.demo.count).max().map { max($0, 4) } ?? 4
        let checkedWidth = rows.map(\.checked.count).max().map { max($0, 7) } ?? 7
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        var lines = ["\(pad(header.demo, demoWidth))  \(pad(header.checked, checkedWidth))  \(pad("time", 8))  result"]
        for row in rows {
            lines.append("\(pad(row.demo, demoWidth))  \(pad(row.checked, checkedWidth))  \(pad("\(row.milliseconds) ms", 8))  \(row.result)")
        }
        lines.append(failures == 0 ? "all \(rows.count) checks passed" : "\(failures) of \(rows.count) checks FAILED")
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Error {
    /// The one line a failure is shown as.
    var message: String {
        switch self {
        case let failure as DemoFailure: failure.message
        default: "\(self)"
        }
    }
}
