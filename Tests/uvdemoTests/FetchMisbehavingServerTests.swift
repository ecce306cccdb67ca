// fetch against a server that misbehaves on purpose: a Python helper that writes raw bytes, so every
// broken framing, stall and reset is exact.
import Foundation
import Testing

/// Serves canned raw responses by path, on 127.0.0.1 or ::1; prints its port first.
let rawResponseServer = pythonPrelude + """
    import struct, time
    def handle(c):
        data = read_head(c)
        if data is None: return
        path = data.split(b" ")[1].decode().split("?")[0]
        if path == "/request":
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(data) + data)
        elif path == "/half-close":
            c.settimeout(1)
            try:
                state = b"half-closed" if c.recv(1) == b"" else b"more bytes"
            except socket.timeout:
                state = b"still open"
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(state) + state)
        elif path == "/chunked":
            c.sendall(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n4\\r\\nchun")
            time.sleep(0.05)
            c.sendall(b"\\r\\n7;x=y\\r\\nked bod\\r\\n1\\r\\ny\\r\\n0\\r\\nX-Check: done\\r\\n\\r\\n")
        elif path == "/until-close":
            c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\nread until the end")
        elif path == "/truncated":
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\n" + b"x" * 50)
        elif path == "/bad-chunk":
            c.sendall(b"HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n5\\r\\nhello\\r\\nzz\\r\\n")
            time.sleep(0.5)
        elif path == "/smuggle":
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n")
        elif path == "/huge-head":
            c.sendall(b"HTTP/1.1 200 OK\\r\\n" + b"X-Filler: " + b"f" * 70000 + b"\\r\\n\\r\\n")
            time.sleep(0.5)
        elif path == "/slow-headers":
            c.sendall(b"HTTP/1.1 200 OK\\r\\n")
            time.sleep(5)
        elif path == "/stall":
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 1000000\\r\\n\\r\\n" + b"s" * 100000)
            time.sleep(10)
        elif path == "/reset":
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 1000000\\r\\n\\r\\n" + b"y" * 100000)
            time.sleep(0.3)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    serve(sys.argv[1], handle)
    """

@Suite("fetch against a misbehaving server")
struct FetchMisbehavingServerTests {
    let peer: PythonPeer
    var scratch: URL { peer.scratch }
    var port: Int { peer.port }

    init() throws {
        peer = try PythonPeer(rawResponseServer, arguments: ["127.0.0.1"])
    }
    var url: String { "http://127.0.0.1:\(port)" }

    func scratchFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
    }

    @Test("the request is an HTTP/1.1 GET with Host, User-Agent and Connection: close")
    func request() throws {
        let fetched = try Demo.run(["fetch", "\(url)/request?a=1"])
        #expect(fetched.status == 0)
        #expect(fetched.stdout == """
            GET /request?a=1 HTTP/1.1\r
            Connection: close\r
            Host: 127.0.0.1:\(port)\r
            User-Agent: uvdemo/0.1.0\r
            Accept: */*\r
            \r

            """)
    }

    @Test("--http1.0 half-closes after its request, as the seeds do; HTTP/1.1 keeps the write side open")
    func halfClose() throws {
        let seeds = try Demo.run(["fetch", "--http1.0", "\(url)/half-close"])
        #expect(seeds.status == 0 && seeds.stdout == "half-closed", "\(seeds.stderr)")
        #expect(try Demo.run(["fetch", "\(url)/half-close"]).stdout == "still open")
    }

    @Test("chunked bodies with extensions and trailers, and bodies read until close, arrive whole")
    func framings() throws {
        #expect(try Demo.run(["fetch", "\(url)/chunked"]).stdout == "chunked body")
        #expect(try Demo.run(["fetch", "\(url)/until-close"]).stdout == "read until the end")
    }

    static let broken: [(String, String)] = [
        ("/truncated", "bad response: the connection closed after 50 of 100 body bytes"),
        ("/bad-chunk", "bad response: malformed chunk size"),
        ("/smuggle", "bad response: both Transfer-Encoding and Content-Length"),
        ("/huge-head", "bad response: header section over 65536 bytes"),
    ]

    @Test("broken responses: exit 3, one line naming the host, an old file untouched, no temporary file left",
          arguments: broken)
    func brokenResponses(path: String, reason: String) throws {
        let saved = scratch.appendingPathComponent("saved")
        try Data("old contents".utf8).write(to: saved)
        let fetched = try Demo.run(["fetch", url + path, "-o", saved.path])
        #expect(fetched.status == 3)
        #expect(fetched.stderr == "uvdemo: 127.0.0.1:\(port): \(reason)\n")
        #expect(try Data(contentsOf: saved) == Data("old contents".utf8))
        #expect(try scratchFiles() == ["saved"])
    }

    @Test("a server that stalls mid-head times out after --timeout")
    func slowHeaders() throws {
        let started = Date()
        let fetched = try Demo.run(["fetch", "--timeout", "0.5", "\(url)/slow-headers"])
        #expect(fetched.status == 3)
        #expect(fetched.stderr == "uvdemo: 127.0.0.1:\(port): no data for 0.5 seconds\n")
        #expect(Date().timeIntervalSince(started) < 4)
    }

    @Test("a reset mid-body removes the temporary file and leaves the old file intact")
    func resetMidBody() throws {
        let saved = scratch.appendingPathComponent("download.bin")
        try Data("previous download".utf8).write(to: saved)
        let fetched = try Demo.run(["fetch", "\(url)/reset", "-o", saved.path])
        #expect(fetched.status == 3)
        #expect(fetched.stderr.hasPrefix("uvdemo: 127.0.0.1:\(port): "))
        #expect(fetched.stderr.contains("connection reset") || fetched.stderr.contains("after 100000 of 1000000"), "\(fetched.stderr)")
        #expect(try Data(contentsOf: saved) == Data("previous download".utf8))
        #expect(try scratchFiles() == ["download.bin"])
    }

    @Test("SIGINT mid-body: exit 3, the temporary file removed, the old file intact")
    func interrupted() throws {
        let saved = scratch.appendingPathComponent("partial.bin")
        try Data("keep me".utf8).write(to: saved)
        let fetch = try Demo(["fetch", "\(url)/stall", "-o", saved.path])
        // Wait until the temporary file holds the first 100,000 bytes, then interrupt.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let partial = try scratchFiles().filter { $0 != "partial.bin" }
            if let name = partial.first,
                let size = try FileManager.default.attributesOfItem(atPath: scratch.appendingPathComponent(name).path)[.size] as? Int,
                size == 100_000
            {
                break
            }
            usleep(10_000)
        }
        fetch.signal(SIGINT)
        let ended = fetch.wait()
        #expect(ended.status == 3)
        #expect(ended.stderr == "uvdemo: interrupted; nothing was saved\n")
        #expect(try Data(contentsOf: saved) == Data("keep me".utf8))
        #expect(try scratchFiles() == ["partial.bin"])
    }

    @Test("an IPv6 literal reaches a server on ::1")
    func ipv6() throws {
        let server = try Demo(["python3", "-c", rawResponseServer, "::1"], executable: "/usr/bin/env")
        let port = try #require(Int(try server.readLine()))
        let fetched = try Demo.run(["fetch", "http://[::1]:\(port)/request"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.contains("Host: [::1]:\(port)\r\n"))
    }
}
