// fetch as a user runs it, against nginx: files byte for byte, error statuses, redirects, HTTP/1.0.
import Foundation
import Testing

@Suite("fetch against nginx", .serialized)
struct FetchDemoTests {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-fetch-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    /// The files in the scratch directory: a failed fetch must leave no temporary file behind.
    func scratchFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: scratch.path).sorted()
    }

    @Test("small and 100 MiB files arrive byte-identical, to stdout and with -o")
    func files() throws {
        let nginx = try Nginx()
        let small = Data("hello from nginx\n".utf8)
        let large = patternData(100 << 20)
        try nginx.write(small, to: "small.txt")
        try nginx.write(large, to: "large.bin")

        let printed = try Demo.run(["fetch", "\(nginx.url)/small.txt"])
        #expect(printed.status == 0 && printed.stderr == "")
        #expect(printed.stdout == "hello from nginx\n")

        let saved = scratch.appendingPathComponent("large.bin")
        let fetched = try Demo.run(["fetch", "\(nginx.url)/large.bin", "-o", saved.path], timeout: 120)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout == "" && fetched.stderr == "", "no progress bar when stderr is not a terminal")
        #expect(try Data(contentsOf: saved) == large)
        #expect(try scratchFiles() == ["large.bin"])

        // On a terminal (script(1) gives it one), a progress bar with the percentage and the size.
        let onTerminal = try Demo.shell(
            "script -qec '\(uvdemoPath) fetch \(nginx.url)/large.bin -o \(saved.path)' /dev/null", timeout: 120)
        #expect(onTerminal.status == 0, "\(onTerminal.stdout)")
        #expect(onTerminal.stdout.contains("] "), "a bar: \(onTerminal.stdout.suffix(300))")
        #expect(onTerminal.stdout.contains("% "))
        #expect(onTerminal.stdout.contains(" of 100.0 MiB"))
        #expect(try Data(contentsOf: saved) == large)
    }

    @Test("404 exits 1 with one line naming host and status, and creates no file; an old file stays")
    func notFound() throws {
        let nginx = try Nginx()
        let saved = scratch.appendingPathComponent("missing.txt")
        let fetched = try Demo.run(["fetch", "\(nginx.url)/missing.txt", "-o", saved.path])
        #expect(fetched.status == 1)
        #expect(fetched.stderr == "uvdemo: 127.0.0.1:\(nginx.port): 404 Not Found for \(nginx.url)/missing.txt\n")
        #expect(try scratchFiles() == [])

        try Data("precious".utf8).write(to: saved)
        #expect(try Demo.run(["fetch", "\(nginx.url)/missing.txt", "-o", saved.path]).status == 1)
        #expect(try Data(contentsOf: saved) == Data("precious".utf8))
        #expect(try scratchFiles() == ["missing.txt"])

        let shown = try Demo.run(["fetch", "--include", "\(nginx.url)/missing.txt"])
        #expect(shown.status == 1)
        #expect(shown.stdout.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(shown.stdout.contains("\r\n\r\n<html>"), "with --include the error's body is shown")
    }

    @Test("-H credentials follow a redirect on the same server, not one to another origin; other fields do")
    func credentialsStayWithTheirServer() throws {
        let nginx = try Nginx(locations: """
            location = /show { return 200 "auth=[$http_authorization] cookie=[$http_cookie] x=[$http_x_demo]\n"; }
            location = /same { return 302 /show; }
            location = /away { return 302 http://localhost:$server_port/show; }
            """)
        let headers = ["-H", "Authorization: Bearer s3cret", "-H", "Cookie: id=1", "-H", "X-Demo: kept"]
        let same = try Demo.run(["fetch", nginx.url + "/same"] + headers)
        #expect(same.stdout == "auth=[Bearer s3cret] cookie=[id=1] x=[kept]\n", "\(same.stderr)")
        let away = try Demo.run(["fetch", nginx.url + "/away"] + headers)
        #expect(away.stdout == "auth=[] cookie=[] x=[kept]\n", "\(away.stderr)")
    }

    @Test("redirects are followed (relative and absolute), loops and too many are exit 3")
    func redirects() throws {
        let nginx = try Nginx(locations: """
            location = /moved { return 301 /small.txt; }
            location = /found { return 302 small.txt; }
            location = /other { return 303 http://127.0.0.1:$server_port/moved; }
            location = /loop-a { return 307 /loop-b; }
            location = /loop-b { return 308 /loop-a; }
            """)
        try nginx.write(Data("landed\n".utf8), to: "small.txt")
        for path in ["/moved", "/found", "/other"] {
            let fetched = try Demo.run(["fetch", nginx.url + path])
            #expect(fetched.status == 0 && fetched.stdout == "landed\n", "\(path): \(fetched.stderr)")
        }
        let verbose = try Demo.run(["fetch", "-v", nginx.url + "/other"])
        #expect(verbose.stderr.contains("redirected to \(nginx.url)/moved\n"))
        #expect(verbose.stderr.contains("redirected to \(nginx.url)/small.txt\n"))

        let loop = try Demo.run(["fetch", nginx.url + "/loop-a"])
        #expect(loop.status == 3)
        #expect(loop.stderr == "uvdemo: \(nginx.url)/loop-b: redirect loop back to \(nginx.url)/loop-a\n")

        let limited = try Demo.run(["fetch", "--max-redirects", "0", nginx.url + "/moved"])
        #expect(limited.status == 3)
        #expect(limited.stderr.contains("more than 0 redirects"))
    }

    @Test("--http1.0 sends the seeds' request and half-closes; the body is the same")
    func http10() throws {
        let nginx = try Nginx()
        let body = patternData(300_000, seed: 7)
        try nginx.write(body, to: "file.bin")
        let saved = scratch.appendingPathComponent("file.bin")
        // The file it replaces keeps its permissions.
        #expect(FileManager.default.createFile(atPath: saved.path, contents: Data("old".utf8), attributes: [.posixPermissions: 0o640]))
        let fetched = try Demo.run(["fetch", "--http1.0", "-v", "\(nginx.url)/file.bin", "-o", saved.path])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stderr.contains("> GET /file.bin HTTP/1.0\n"))
        #expect(try Data(contentsOf: saved) == body)
        #expect(try FileManager.default.attributesOfItem(atPath: saved.path)[.posixPermissions] as? Int == 0o640)
    }

    @Test("--include shows the head before the body")
    func include() throws {
        let nginx = try Nginx()
        try nginx.write(Data("body\n".utf8), to: "a.txt")
        let fetched = try Demo.run(["fetch", "-i", "\(nginx.url)/a.txt"])
        #expect(fetched.status == 0)
        #expect(fetched.stdout.hasPrefix("HTTP/1.1 200 OK\r\nServer: nginx"))
        #expect(fetched.stdout.contains("\r\nContent-Length: 5\r\n"))
        #expect(fetched.stdout.hasSuffix("\r\n\r\nbody\n"))
    }

    static let badInput: [(String, String)] = [
        ("http://exa mple.com/", "uvdemo: invalid URL 'http://exa mple.com/': it contains a space, a control character or a non-ASCII character\n"),
        ("http:///x", "uvdemo: invalid URL 'http:///x': the host is empty\n"),
        ("http://127.0.0.1:0/", "uvdemo: invalid URL 'http://127.0.0.1:0/': the port '0' is not in 1...65535\n"),
        ("http://127.0.0.1:70000/", "uvdemo: invalid URL 'http://127.0.0.1:70000/': the port '70000' is not in 1...65535\n"),
        ("ftp://127.0.0.1/", "uvdemo: 'ftp://127.0.0.1/': the ftp:// scheme is not supported (use http:// or https://)\n"),
        ("http://127.0.0.1/\r\nX: y", "uvdemo: invalid URL 'http://127.0.0.1/\\x0d\\x0aX: y': it contains a space, a control character or a non-ASCII character\n"),
    ]

    @Test("bad URLs: one line, exit 2, nothing sent", arguments: badInput)
    func badURLs(url: String, message: String) throws {
        let fetched = try Demo.run(["fetch", url])
        #expect(fetched.status == 2)
        #expect(fetched.stderr == message)
        #expect(fetched.stdout == "")
    }

    @Test("-o into a missing directory is exit 2, before anything is sent")
    func missingDirectory() throws {
        let port = try freePort()
        let fetched = try Demo.run(["fetch", "http://127.0.0.1:\(port)/", "-o", "/nonexistent-uvnet/file"])
        #expect(fetched.status == 2, "a refused connection would be exit 3: the check comes first")
        #expect(fetched.stderr == "uvdemo: create a file in /nonexistent-uvnet/: no such file or directory (ENOENT)\n")
    }

    @Test("a refused connection is exit 3 naming the host")
    func refused() throws {
        let port = try freePort()
        let fetched = try Demo.run(["fetch", "http://127.0.0.1:\(port)/"])
        #expect(fetched.status == 3)
        #expect(fetched.stderr == "uvdemo: connect to 127.0.0.1:\(port): connection refused (ECONNREFUSED)\n")
    }
}
