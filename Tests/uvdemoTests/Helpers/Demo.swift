// Running the uvdemo binary as a real process: start it, read its output, signal it, collect its exit.
import Foundation
import Testing

/// The `uvdemo` executable that `swift build` put beside this test bundle.
let uvdemoPath: String = {
    let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
    // The test binary sits inside `UVNetPackageTests.xctest` or beside it, depending on the runner.
    while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("uvdemo").path),
        directory.path != "/"
    {
        directory.deleteLastPathComponent()
    }
    return directory.appendingPathComponent("uvdemo").path
}()

/// What a finished process said and how it ended.
struct Finished {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// A running process: uvdemo, or a peer it talks to.
final class Demo {
    let process = Process()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let stdinPipe = Pipe()
    private var stdoutSoFar = Data()

    init(_ arguments: [String], executable: String = uvdemoPath) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        process.standardInput = stdinPipe
        // A child inherits this thread's signal mask, and test threads may run with signals blocked (libuv
        // blocks them in threads it starts): spawn with none blocked, or SIGTERM and nc's timers never arrive.
        var none = sigset_t()
        var previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    /// Runs uvdemo (or `executable`) to the end, feeding `input` on stdin; kills it after `timeout` seconds.
    static func run(
        _ arguments: [String], executable: String = uvdemoPath, input: String = "", timeout: Double = 20
    ) throws -> Finished {
        let demo = try Demo(arguments, executable: executable)
        demo.stdinPipe.fileHandleForWriting.write(Data(input.utf8))
        try demo.stdinPipe.fileHandleForWriting.close()
        return demo.wait(timeout: timeout)
    }

    /// Reads stdout until the server's `listening on HOST:PORT` line and returns the port.
    func listeningPort() throws -> Int {
        let line = try readLine()
        let prefix = "listening on "
        try #require(line.hasPrefix(prefix), "expected '\(prefix)…', got '\(line)'")
        return try #require(Int(line.split(separator: ":").last ?? ""), "no port in '\(line)'")
    }

    /// The next line of stdout (without its newline).
    func readLine() throws -> String {
        while true {
            if let newline = stdoutSoFar.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: stdoutSoFar[..<newline], as: UTF8.self)
                stdoutSoFar = Data(stdoutSoFar[(newline + 1)...])
                return line
            }
            let more = stdoutPipe.fileHandleForReading.availableData
            if more.isEmpty {
                Issue.record("uvdemo closed stdout before a full line: \(String(decoding: stdoutSoFar, as: UTF8.self))")
                throw CancellationError()
            }
            stdoutSoFar.append(more)
        }
    }

    /// Writes a line to the process's stdin.
    func writeLine(_ line: String) throws {
        try stdinPipe.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the process to end (SIGKILL after `timeout` seconds, recorded as a failure).
    func wait(timeout: Double = 20) -> Finished {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            Issue.record("uvdemo \(process.arguments ?? []) did not end within \(timeout) s")
            kill(process.processIdentifier, SIGKILL)
        }
        let out = stdoutSoFar + stdoutPipe.fileHandleForReading.readDataToEndOfFile()
        let err = stderrPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Finished(
            status: process.terminationStatus,
            stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self))
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Runs a small Python program (a peer no UVNet code wrote) to the end.
func python(_ source: String, _ arguments: [String] = []) throws -> Finished {
    try Demo.run(["python3", "-c", source] + arguments, executable: "/usr/bin/env")
}

extension Demo {
    /// Starts a Python program that keeps running (a server); read what it prints with `readLine()`.
    static func pythonServer(_ source: String) throws -> Demo {
        try Demo(["python3", "-c", source], executable: "/usr/bin/env")
    }

    /// Runs a shell command line (for pipelines into socat or nc).
    static func shell(_ command: String, timeout: Double = 20) throws -> Finished {
        try run(["-c", command], executable: "/bin/sh", timeout: timeout)
    }
}

/// Python helpers the test peers start with: `exchange(s, payload)` sends `payload` on socket `s` (from
/// a thread, so a large one cannot block), half-closes, and returns everything read until EOF;
/// `read_head(c)` reads a request up to its blank line (None if the peer closes first); `serve`
/// listens on `host` (IPv4 or IPv6) port 0, prints the port, and runs `handle(c)` in a thread per
/// connection.
let pythonPrelude = """
    import socket, sys, threading
    def exchange(s, payload):
        threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR))).start()
        got = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk: return bytes(got)
            got += chunk
    def read_head(c):
        data = b""
        while b"\\r\\n\\r\\n" not in data:
            chunk = c.recv(4096)
            if not chunk: return None
            data += chunk
        return data
    def serve(host, handle):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        s.bind((host, 0))
        s.listen(16)
        print(s.getsockname()[1], flush=True)
        while True:
            c, _ = s.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    """

/// A Python client: sends `size` bytes of a pattern on each of `clients` connections, half-closes, and
/// prints "same" per connection whose echo matched.
let echoCheckClient = pythonPrelude + """
    port, clients, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    results = []
    def run(seed):
        payload = bytes((i * 31 + seed) % 251 for i in range(size))
        got = exchange(socket.create_connection(("127.0.0.1", port)), payload)
        results.append("same" if got == payload else f"differ {len(got)}")
    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    print("\\n".join(sorted(results)))
    """

/// A Python server (`source`, one of the scripts the suites define) started for a suite: its port, the
/// URL to reach it by, and a scratch directory for what fetch saves.
struct PythonPeer {
    let scratch: URL
    let server: Demo
    let port: Int

    init(_ source: String, arguments: [String] = []) throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        server = try Demo(["python3", "-c", source] + arguments, executable: "/usr/bin/env")
        port = try #require(Int(try server.readLine()))
    }

    var url: String { "http://127.0.0.1:\(port)" }
}
