// The local demos as a user runs them: the echo server on a Unix-domain socket (against Python and
// socat), and the pre-fork server (workers sharing one listening socket, replaced when they die); both
// put through resets, a connect storm, and checked for leaked descriptors and idle CPU.
import Foundation
import Testing

/// A Python client for a Unix-domain echo: sends `size` bytes, half-closes, prints "same" if the echo matched.
let unixEchoCheck = pythonPrelude + """
    path, size = sys.argv[1], int(sys.argv[2])
    payload = bytes((i * 31 + 7) % 251 for i in range(size))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    got = exchange(s, payload)
    print("same" if got == payload else "differ %d" % len(got))
    """

/// Faults a server must survive, over TCP (`tcp PORT`) or a Unix socket (`unix PATH`): 50 clients that
/// reset mid-stream, then a storm of 1500 connects closed at once, then one echo that must still work.
let faultClient = pythonPrelude + """
    import resource, struct, time
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    kind, where = sys.argv[1], sys.argv[2]
    def connect():
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(where)
        else:
            s = socket.create_connection(("127.0.0.1", int(where)))
        return s
    for _ in range(50):
        s = connect()
        s.sendall(b"x" * 100000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    opened = []
    for _ in range(1500):
        for attempt in range(50):
            try:
                opened.append(connect()); break
            except (BlockingIOError, ConnectionRefusedError) as error:
                time.sleep(0.01)
    for s in opened: s.close()
    got = exchange(connect(), b"still here")
    print("opened %d, echo %s" % (len(opened), got.decode()))
    """

/// The descriptors process `id` has open.
func openDescriptors(of id: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(id)/fd").count) ?? -1
}

/// The CPU time (user and system, in clock ticks) process `id` has used.
func cpuTicks(of id: Int32) -> Int {
    guard let stat = try? String(contentsOfFile: "/proc/\(id)/stat", encoding: .utf8),
        let afterName = stat.range(of: ") ")
    else { return -1 }
    let fields = stat[afterName.upperBound...].split(separator: " ")
    return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)  // utime and stime: fields 14 and 15 of the line
}

/// The children of process `id` (a pre-fork server's workers).
func children(of id: Int32) -> Set<Int32> {
    let listed = (try? Demo.shell("pgrep -P \(id)").stdout) ?? ""
    return Set(listed.split(separator: "\n").compactMap { Int32($0) })
}

@Suite("echo over a Unix-domain socket")
struct UnixEchoDemoTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-unix-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    @Test("one listening line, the socket's mode, Python, socat and echo-client served; the file is gone after SIGTERM")
    func unixEcho() throws {
        let path = directory.appendingPathComponent("echo.sock").path
        let server = try Demo(["echo-server", "--unix", path, "--mode", "0660"])
        #expect(try server.readLine() == "listening on unix:\(path)")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o660)
        #expect(try python(unixEchoCheck, [path, "\(1 << 20)"]).stdout == "same\n")
        #expect(try Demo.shell("printf 'hello\\n' | socat - UNIX-CONNECT:\(path)").stdout == "hello\n")
        let client = try Demo.run(["echo-client", "--unix", path, "one", "two"])
        #expect(client.status == 0 && client.stdout == "one\ntwo\n", "\(client.stderr)")
        server.signal(SIGTERM)
        #expect(server.wait().status == 0)
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file is left behind")
    }

    @Test("a live server's path is refused, a dead one's stale file replaced; a path too long is exit 2")
    func paths() throws {
        let path = directory.appendingPathComponent("shared.sock").path
        let first = try Demo(["echo-server", "--unix", path])
        _ = try first.readLine()
        let second = try Demo.run(["echo-server", "--unix", path])
        #expect(second.status == 3)
        #expect(second.stderr.contains("EADDRINUSE") && second.stderr.contains("a server is listening there"),
                "\(second.stderr)")
        #expect(try Demo.run(["echo-client", "--unix", path, "first"]).stdout == "first\n", "the live server was disturbed")
        first.signal(SIGKILL)  // dies without removing its file
        _ = first.wait()
        #expect(FileManager.default.fileExists(atPath: path))
        let third = try Demo(["echo-server", "--unix", path])
        #expect(try third.readLine() == "listening on unix:\(path)")
        third.signal(SIGTERM)
        #expect(third.wait().status == 0)
        let long = try Demo.run(["echo-server", "--unix", "/tmp/" + String(repeating: "p", count: 120)])
        #expect(long.status == 2)
        #expect(long.stderr.contains("at most 107"), "\(long.stderr)")
    }
}

@Suite("the pre-fork echo server")
struct PreforkDemoTests {
    @Test("100 clients are spread over 2 workers, each serving some; SIGTERM stops all, exit 0")
    func spread() throws {
        let server = try Demo(["echo-server", "--processes", "2", "--port", "0", "--verbose"])
        let port = try server.listeningPort()
        let results = try python(echoCheckClient, ["\(port)", "100", "20000"])
        #expect(results.stdout == String(repeating: "same\n", count: 100), "\(results.stderr)")
        server.signal(SIGTERM)
        let ended = server.wait()
        #expect(ended.status == 0, "\(ended.stderr)")
        let served = ended.stderr.split(separator: "\n").filter { $0.contains(": connected: ") }
            .map { $0.split(separator: ":").first.map(String.init) ?? "" }
        let perWorker = Dictionary(grouping: served, by: { $0 }).mapValues(\.count)
        #expect(perWorker.count == 2, "connections per worker: \(perWorker)")
        #expect(served.count == 100)
    }

    @Test("a worker killed with -9 while clients are connected is replaced; the others keep serving")
    func workerReplaced() throws {
        let server = try Demo(["echo-server", "--processes", "2", "--port", "0"])
        let port = try server.listeningPort()
        let parent = server.process.processIdentifier
        var workers = children(of: parent)
        for _ in 0..<100 where workers.count < 2 {
            usleep(20_000)
            workers = children(of: parent)
        }
        #expect(workers.count == 2)
        // Clients keep connections open while one worker dies under them.
        let holding = try Demo.pythonServer("""
            import socket, time
            held = [socket.create_connection(("127.0.0.1", \(port))) for _ in range(10)]
            print("holding", flush=True)
            time.sleep(3)
            """)
        _ = try holding.readLine()
        let victim = try #require(workers.first)
        kill(victim, SIGKILL)
        var replaced = children(of: parent)
        for _ in 0..<250 where replaced.count < 2 || replaced.contains(victim) {
            usleep(20_000)
            replaced = children(of: parent)
        }
        #expect(replaced.count == 2 && !replaced.contains(victim), "workers now: \(replaced)")
        let results = try python(echoCheckClient, ["\(port)", "20", "5000"])
        #expect(results.stdout == String(repeating: "same\n", count: 20))
        server.signal(SIGTERM)
        let ended = server.wait()
        #expect(ended.status == 0, "\(ended.stderr)")
        #expect(ended.stderr.contains("worker \(victim) ended with signal 9 (SIGKILL); starting another"), "\(ended.stderr)")
    }

    @Test("SIGTERM lets a client mid-echo finish before the workers exit, and the server exits 0")
    func drains() throws {
        let server = try Demo(["echo-server", "--processes", "2", "--port", "0"])
        let port = try server.listeningPort()
        let slow = try Demo.pythonServer(pythonPrelude + """
            import time
            s = socket.create_connection(("127.0.0.1", \(port)))
            s.sendall(b"first ")
            print("sent", flush=True)
            time.sleep(1)
            print(exchange(s, b"second").decode(), flush=True)
            """)
        #expect(try slow.readLine() == "sent")
        usleep(200_000)
        server.signal(SIGTERM)
        #expect(try slow.readLine() == "first second")
        #expect(server.wait().status == 0)
    }
}

@Suite("local servers under faults")
struct LocalFaultTests {
    enum Server: String, CaseIterable, CustomStringConvertible {
        case unixSocket = "unix", prefork = "pre-fork"
        var description: String { rawValue }
    }

    @Test("resets mid-stream and a 1500-connect storm: still serving, descriptors back to the baseline, no CPU when idle",
          arguments: Server.allCases)
    func faults(_ kind: Server) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-fault-\(UUID().uuidString).sock").path
        let server = try Demo(kind == .prefork ? ["echo-server", "--processes", "2", "--port", "0"] : ["echo-server", "--unix", path])
        let where_ = kind == .prefork ? "\(try server.listeningPort())" : String(try server.readLine().dropFirst("listening on unix:".count))
        let parent = server.process.processIdentifier
        usleep(300_000)
        let processes = [parent] + children(of: parent)
        let baseline = processes.map(openDescriptors)
        let outcome = try python(faultClient, [kind == .prefork ? "tcp" : "unix", where_])
        #expect(outcome.stdout == "opened 1500, echo still here\n", "\(outcome.stdout)\(outcome.stderr)")
        var after = processes.map(openDescriptors)
        for _ in 0..<100 where after != baseline {
            usleep(20_000)
            after = processes.map(openDescriptors)
        }
        #expect(after == baseline, "descriptors before \(baseline), after \(after)")
        let before = processes.map(cpuTicks)
        sleep(1)
        let idle = zip(processes.map(cpuTicks), before).map { $0 - $1 }
        #expect(idle.allSatisfy { $0 <= 2 }, "CPU ticks used in an idle second: \(idle)")
        server.signal(SIGTERM)
        #expect(server.wait().status == 0)
    }
}
