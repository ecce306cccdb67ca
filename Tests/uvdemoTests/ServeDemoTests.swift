// serve as a user runs it, against curl and wrk: files, statuses, keep-alive, confinement, load.
import Foundation
import Testing

@Suite("serve against curl and wrk")
struct ServeDemoTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-serve-\(UUID().uuidString)")
    let server: Demo
    let port: Int
    let file = patternData(3_000_000, seed: 3)

    init() throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("docs"), withIntermediateDirectories: true)
        try file.write(to: root.appendingPathComponent("file.bin"))
        try Data("<p>index</p>\n".utf8).write(to: root.appendingPathComponent("docs/index.html"))
        server = try Demo(["serve", "--root", root.path, "--port", "0"])
        port = try server.listeningPort()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func curl(_ arguments: String) throws -> Finished {
        try Demo.shell("curl -sS \(arguments)")
    }

    @Test("GET and HEAD answer with the file and its length; curl gets it byte for byte")
    func files() throws {
        let saved = root.appendingPathComponent("saved.bin")
        #expect(try curl("-o \(saved.path) \(url)/file.bin").status == 0)
        #expect(try Data(contentsOf: saved) == file)

        let head = try curl("-I \(url)/file.bin")
        #expect(head.stdout.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(head.stdout.contains("\r\nContent-Length: 3000000\r\n"))
        #expect(head.stdout.contains("\r\nContent-Type: application/octet-stream\r\n"))

        #expect(try curl("\(url)/docs/").stdout == "<p>index</p>\n")
        let redirect = try curl("-i \(url)/docs")
        #expect(redirect.stdout.hasPrefix("HTTP/1.1 301 Moved Permanently\r\n"))
        #expect(redirect.stdout.contains("\r\nLocation: /docs/\r\n"))
    }

    @Test("a single byte range: 206 with Content-Range (first, middle, suffix), 416 past the end")
    func ranges() throws {
        func bytes(_ range: String) throws -> Data {
            let saved = root.appendingPathComponent("range.bin")
            #expect(try curl("-r \(range) -o \(saved.path) \(url)/file.bin").status == 0)
            return try Data(contentsOf: saved)
        }
        #expect(try bytes("0-99") == file.prefix(100))
        #expect(try bytes("1000-1999") == file[1000..<2000])
        #expect(try bytes("-500") == file.suffix(500))
        let head = try curl("-i -r 10-19 \(url)/file.bin").stdout
        #expect(head.hasPrefix("HTTP/1.1 206 Partial Content\r\n"))
        #expect(head.contains("\r\nContent-Range: bytes 10-19/3000000\r\n"))
        #expect(try curl("-I \(url)/file.bin").stdout.contains("\r\nAccept-Ranges: bytes\r\n"))
        let past = try curl("-i -r 4000000- \(url)/file.bin").stdout
        #expect(past.hasPrefix("HTTP/1.1 416 Range Not Satisfiable\r\n"))
        #expect(past.contains("\r\nContent-Range: bytes */3000000\r\n"))
    }

    @Test("statuses: 404, 405 with Allow, 400 for traversal (plain and encoded) and malformed requests")
    func statuses() throws {
        func status(_ arguments: String) throws -> String { try curl("-o /dev/null -w '%{http_code}' \(arguments)").stdout }
        #expect(try status("\(url)/missing") == "404")
        #expect(try status("-X POST \(url)/file.bin") == "405")
        #expect(try curl("-i -X DELETE \(url)/file.bin").stdout.contains("\r\nAllow: GET, HEAD\r\n"))
        #expect(try status("--path-as-is \(url)/../../etc/passwd") == "400")
        #expect(try status("--path-as-is \(url)/docs/%2e%2e/%2e%2e/etc/passwd") == "400")
        #expect(try status("--http1.1 -H 'Host:' \(url)/file.bin") == "400")
        let malformed = try Demo.shell("printf 'GET /file.bin HTTP/1.1\\nHost: x\\n\\n' | nc -q 2 127.0.0.1 \(port)")
        #expect(malformed.stdout.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        let version = try Demo.shell("printf 'GET / HTTP/3.0\\r\\n\\r\\n' | nc -q 2 127.0.0.1 \(port)")
        #expect(version.stdout.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
    }

    @Test("keep-alive: curl reuses one connection for several requests")
    func keepAlive() throws {
        let both = try curl("-o /dev/null -o /dev/null -w '%{num_connects} ' \(url)/docs/ \(url)/file.bin")
        #expect(both.stdout == "1 0 ")
    }

    @Test("uvdemo fetch gets what serve serves")
    func fetchFromServe() throws {
        let saved = root.appendingPathComponent("fetched.bin")
        let fetched = try Demo.run(["fetch", "\(url)/file.bin", "-o", saved.path])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(try Data(contentsOf: saved) == file)
    }

    @Test("wrk for 3 seconds over 20 keep-alive connections: no errors, no non-2xx; SIGTERM then exits 0")
    func underLoad() throws {
        let run = try Demo.shell("wrk -t 2 -c 20 -d 3s \(url)/docs/", timeout: 30)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("Socket errors"), "\(run.stdout)")
        #expect(!run.stdout.contains("Non-2xx"), "\(run.stdout)")
        let requests = run.stdout.split(separator: "\n").first { $0.contains("requests in") }
        #expect(requests != nil, "\(run.stdout)")
        server.signal(SIGTERM)
        let ended = server.wait()
        #expect(ended.status == 0)
        #expect(ended.stderr == "")
    }
}
