// fetch as a tool people keep: -O, resuming with -C -, --retry with backoff and Retry-After, -H, -X HEAD,
// --max-time and -s, against nginx and a Python server that counts what it is asked.
import Foundation
import Testing

/// A server that answers by path and counts requests per path: `/flaky` fails twice with 503 then
/// answers, `/busy` says 503 with Retry-After: 1 once, `/gone` is 404, `/ignore-range` always sends
/// the whole body with 200, `/headers` echoes the request head, `/stall` never answers.
/// `GET /count/PATH` returns how many requests PATH got. Prints its port first.
let countingServer = pythonPrelude + """
    import time
    counts = {}
    body = bytes((i * 7 + 3) % 251 for i in range(300000))
    def reply(c, status, fields, payload):
        head = "HTTP/1.1 %s\\r\\nContent-Length: %d\\r\\n" % (status, len(payload)) + "".join(f + "\\r\\n" for f in fields)
        c.sendall(head.encode() + b"\\r\\n" + payload)
    def handle(c):
        data = read_head(c)
        if data is None: return
        method, path = data.split(b" ")[0].decode(), data.split(b" ")[1].decode()
        counts[path] = counts.get(path, 0) + 1
        n = counts[path]
        if path.startswith("/count/"):
            reply(c, "200 OK", [], str(counts.get(path[6:], 0)).encode())
        elif path == "/flaky":
            reply(c, "503 Service Unavailable", [], b"later") if n <= 2 else reply(c, "200 OK", [], b"third time lucky")
        elif path == "/busy":
            reply(c, "503 Service Unavailable", ["Retry-After: 1"], b"") if n == 1 else reply(c, "200 OK", [], b"done")
        elif path == "/gone":
            reply(c, "404 Not Found", [], b"no")
        elif path == "/ignore-range":
            reply(c, "200 OK", [], body)
        elif path == "/headers":
            reply(c, "200 OK", [], data if method != "HEAD" else b"")
        elif path == "/stall":
            time.sleep(10)
        c.close()
    serve("127.0.0.1", handle)
    """

@Suite("fetch as a tool")
struct FetchToolTests {
    let peer: PythonPeer
    var scratch: URL { peer.scratch }
    var port: Int { peer.port }

    init() throws {
        peer = try PythonPeer(countingServer)
    }
    var url: String { "http://127.0.0.1:\(port)" }

    /// How many requests the server saw for `path`.
    func requests(to path: String) throws -> Int {
        let asked = try Demo.run(["fetch", "\(url)/count\(path)"])
        return try #require(Int(asked.stdout), "\(asked.stderr)")
    }

    func inScratch(_ arguments: [String]) throws -> Finished {
        try Demo.run(["sh", "-c", "cd '\(scratch.path)' && exec \"$0\" \"$@\"", uvdemoPath] + arguments, executable: "/usr/bin/env")
    }

    @Test("-O saves under the URL's last segment; names that would escape or are empty are refused, nothing sent",
          arguments: ["/dir/", "/%2e%2e", "/a%2Fb", "/"])
    func remoteNameSafety(path: String) throws {
        let refused = try inScratch(["fetch", "-O", "\(url)\(path)"])
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("-O: the URL's last path segment"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
        #expect(try requests(to: path) == 0, "a refused -O still sent a request")
    }

    @Test("-O saves the body under the URL's last segment, in the current directory")
    func remoteName() throws {
        let saved = try inScratch(["fetch", "-O", "\(url)/headers"])
        #expect(saved.status == 0, "\(saved.stderr)")
        let body = try String(contentsOf: scratch.appendingPathComponent("headers"), encoding: .utf8)
        #expect(body.hasPrefix("GET /headers HTTP/1.1\r\n"))
    }

    @Test("--retry tries again after 503s: exactly three requests, then the body, exit 0")
    func retriesUntilAnswered() throws {
        let fetched = try Demo.run(["fetch", "--retry", "3", "--retry-delay", "0.1", "\(url)/flaky"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout == "third time lucky")
        #expect(fetched.stderr.contains("trying again"), "each retry is announced: \(fetched.stderr)")
        #expect(try requests(to: "/flaky") == 3)
    }

    @Test("a 404 is never retried: one request, exit 1")
    func noRetryOn404() throws {
        let fetched = try Demo.run(["fetch", "--retry", "3", "--retry-delay", "0.1", "\(url)/gone"])
        #expect(fetched.status == 1, "\(fetched.stderr)")
        #expect(try requests(to: "/gone") == 1)
    }

    @Test("Retry-After is honoured: the second request waits at least its second")
    func retryAfter() throws {
        let started = Date()
        let fetched = try Demo.run(["fetch", "--retry", "1", "--retry-delay", "0", "\(url)/busy"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout == "done")
        #expect(elapsed >= 1 && elapsed < 8, "took \(elapsed) s")
    }

    @Test("-H fields reach the server, and replace fetch's own of the same name")
    func extraHeaders() throws {
        let fetched = try Demo.run(["fetch", "-H", "X-Test: 42", "-H", "User-Agent: tester/1", "\(url)/headers"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.contains("\r\nX-Test: 42\r\n"))
        #expect(fetched.stdout.contains("\r\nUser-Agent: tester/1\r\n"))
        #expect(!fetched.stdout.contains("uvdemo/"), "the default User-Agent was sent too")
        let bad = try Demo.run(["fetch", "-H", "No Colon", "\(url)/headers"])
        #expect(bad.status == 2)
    }

    @Test("-X HEAD asks for the head only and prints it")
    func head() throws {
        let fetched = try Demo.run(["fetch", "-X", "HEAD", "\(url)/headers"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test("--max-time bounds the whole transfer: exit 3, saying so; -s keeps stderr empty")
    func maxTimeAndSilent() throws {
        let started = Date()
        let slow = try Demo.run(["fetch", "--max-time", "0.5", "\(url)/stall"])
        #expect(slow.status == 3)
        #expect(slow.stderr.contains("gave up after --max-time"), "\(slow.stderr)")
        #expect(Date().timeIntervalSince(started) < 5)
        let silent = try Demo.run(["fetch", "-s", "\(url)/gone"])
        #expect(silent.status == 1)
        #expect(silent.stderr == "")
    }

    @Test("-C - against a server that ignores the range starts the file over, cleanly")
    func resumeIgnored() throws {
        let file = scratch.appendingPathComponent("whole.bin")
        try Data("stale partial bytes".utf8).write(to: file)
        let fetched = try Demo.run(["fetch", "-C", "-", "-o", file.path, "\(url)/ignore-range"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let expected = Data((0..<300_000).map { UInt8(($0 * 7 + 3) % 251) })
        #expect(try Data(contentsOf: file) == expected)
    }
}

@Suite("fetch -C - against nginx")
struct FetchResumeTests {
    @Test("a partial file is resumed with a Range request and ends byte-identical")
    func resumeFromNginx() throws {
        let nginx = try Nginx()
        let whole = Data((0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ ($0 >> 10)) })
        try nginx.write(whole, to: "resume.bin")
        let file = nginx.directory.appendingPathComponent("resume.bin")
        try whole.prefix(1_234_567).write(to: file)
        let fetched = try Demo.run(["fetch", "-v", "-C", "-", "-o", file.path, "\(nginx.url)/resume.bin"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stderr.contains("Range: bytes=1234567-"), "\(fetched.stderr)")
        #expect(fetched.stderr.contains("< HTTP/1.1 206 Partial Content"), "\(fetched.stderr)")
        let identical = try Data(contentsOf: file) == whole
        #expect(identical)
        // Resuming a complete file asks for nothing more and succeeds.
        let again = try Demo.run(["fetch", "-C", "-", "-o", file.path, "\(nginx.url)/resume.bin"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Data(contentsOf: file).count == whole.count)
    }
}
