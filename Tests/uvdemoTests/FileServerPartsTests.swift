// The file server's request reader and its path confinement, on their own.
import Foundation
import Testing

@testable import uvdemo

@Suite("file server: requests and paths")
struct FileServerPartsTests {
    @Test("pipelined requests come out one at a time, bodies skipped, however the bytes arrive")
    func pipelinedRequests() throws {
        let stream = Array(
            ("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + "POST /b?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                + "HEAD /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").utf8)
        for cut in 0...stream.count {
            var reader = HTTPRequestReader()
            var buffer: [UInt8] = []
            var requests: [HTTPRequestHead] = []
            for piece in [stream[..<cut], stream[cut...]] {
                buffer += piece
                while let request = try reader.next(from: &buffer) { requests.append(request) }
            }
            #expect(requests.map(\.method) == ["GET", "POST", "HEAD"], "cut at \(cut)")
            #expect(requests.map(\.target) == ["/a", "/b?q=1", "/c"])
            #expect(requests.map(\.wantsKeepAlive) == [true, true, true])
            #expect(buffer.isEmpty, "the last body's bytes are taken")
        }
    }

    static let refused: [(String, HTTPStatus)] = [
        ("GARBAGE\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1 extra\r\n\r\n", .badRequest),
        ("GET a HTTP/1.1\r\n\r\n", .badRequest),
        ("GET  /a HTTP/1.1\r\n\r\n", .badRequest),
        ("GET /a HTTP/2.0\r\n\r\n", .versionNotSupported),
        ("GET /a HTTP/1.1\nHost: x\r\n\r\n", .badRequest),
        ("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", .notImplemented),
        ("POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 101) + "\r\n", .fieldsTooLarge),
    ]

    @Test("malformed requests map to the status that refuses them", arguments: refused)
    func refusedRequests(request: String, status: HTTPStatus) {
        var reader = HTTPRequestReader()
        var buffer = Array(request.utf8)
        do {
            _ = try reader.next(from: &buffer)
            Issue.record("accepted \(request.debugDescription)")
        } catch let error as HTTPParseError {
            #expect(HTTPStatus(refusing: error) == status, "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("HTTP/1.1 keeps the connection unless it says close; HTTP/1.0 closes unless it says keep-alive")
    func keepAlive() throws {
        func head(_ text: String) throws -> HTTPRequestHead? {
            var reader = HTTPRequestReader()
            var buffer = Array(text.utf8)
            return try reader.next(from: &buffer)
        }
        #expect(try head("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")?.wantsKeepAlive == false)
        #expect(try head("GET / HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n")?.wantsKeepAlive == false)
        #expect(try head("GET / HTTP/1.0\r\n\r\n")?.wantsKeepAlive == false)
    }

    @Test("paths stay inside the root: dot segments, encoded or not, and outward links are refused")
    func confinement() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-files-\(getpid())")
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-outside-\(getpid())")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("docs"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(at: root)
            try? FileManager.default.removeItem(at: outside)
        }
        try Data("secret".utf8).write(to: outside.appendingPathComponent("secret.txt"))
        try Data("hi".utf8).write(to: root.appendingPathComponent("a b.txt"))
        try Data("index".utf8).write(to: root.appendingPathComponent("docs/index.html"))
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("leak"), withDestinationURL: outside)
        try FileManager.default.createSymbolicLink(
            at: root.appendingPathComponent("inner"), withDestinationURL: root.appendingPathComponent("docs"))

        let files = try StaticFiles(root: root.path)
        let real = files.root
        #expect(files.lookup("/a%20b.txt") == .file(real + "/a b.txt"))
        #expect(files.lookup("/docs/") == .file(real + "/docs/index.html"))
        #expect(files.lookup("/inner/index.html") == .file(real + "/docs/index.html"))
        #expect(files.lookup("/docs") == .directory(redirectTo: "/docs/"))
        #expect(files.lookup("/empty/") == .notFound)
        #expect(files.lookup("/missing") == .notFound)
        for path in ["/../etc/passwd", "/docs/../../x", "/%2e%2e/x", "/%2E%2e/x", "/docs/%2e%2e%2f%2e%2e%2fx", "/./a",
                     "/a%00b", "/%zz", "/%2", "relative"] {
            #expect(files.lookup(path[...]) == .badPath, "\(path)")
        }
        #expect(files.lookup("/leak/secret.txt") == .forbidden)
        #expect(files.lookup("/leak") == .forbidden)
    }

    @Test("content types follow the extension")
    func contentTypes() {
        #expect(StaticFiles.contentType(of: "/r/index.HTML") == "text/html; charset=utf-8")
        #expect(StaticFiles.contentType(of: "/r/app.js") == "text/javascript")
        #expect(StaticFiles.contentType(of: "/r/blob") == "application/octet-stream")
        #expect(StaticFiles.contentType(of: "/r.d/blob") == "application/octet-stream")
    }
}

@Suite("byte ranges and HTTP dates")
struct HTTPRangeTests {
    @Test("a Range header against a 1000-byte file: one range, clamped; anything else is the whole")
    func rangeRequests() {
        let cases: [(String?, HTTPRangeRequest)] = [
            ("bytes=0-99", .bytes(first: 0, last: 99)), ("bytes=500-", .bytes(first: 500, last: 999)),
            ("bytes=-100", .bytes(first: 900, last: 999)), ("bytes=-5000", .bytes(first: 0, last: 999)),
            ("bytes=990-5000", .bytes(first: 990, last: 999)), ("bytes=1000-", .unsatisfiable), ("bytes=-0", .unsatisfiable),
            (nil, .whole), ("bytes=0-1,5-6", .whole), ("items=0-1", .whole), ("bytes=9-3", .whole), ("bytes=x-", .whole),
            ("bytes=-", .whole), ("bytes=+1-2", .whole),
        ]
        for (header, expected) in cases {
            #expect(HTTPRangeRequest(header, length: 1000) == expected, "\(header ?? "nil")")
        }
        #expect(HTTPRangeRequest("bytes=0-", length: 0) == .unsatisfiable)
    }

    @Test("Content-Range: a range with its length, an unsatisfied range, and what is refused")
    func contentRanges() {
        #expect(HTTPContentRange("bytes 100-199/1000") == HTTPContentRange("bytes 100-199/1000"))
        #expect(HTTPContentRange("bytes 100-199/1000")?.range == 100...199)
        #expect(HTTPContentRange("bytes 100-199/1000")?.length == 1000)
        #expect(HTTPContentRange("bytes 0-9/*")?.length == nil)
        #expect(HTTPContentRange("bytes */1000")?.range == nil)
        #expect(HTTPContentRange("bytes */1000")?.length == 1000)
        for bad in ["bytes */*", "bytes 9-3/10", "bytes 0-10/10", "items 0-1/2", "bytes 0-1", "bytes a-b/3"] {
            #expect(HTTPContentRange(bad) == nil, "\(bad)")
        }
    }

    @Test("validators: If-None-Match (weak comparison, *), If-Modified-Since, and If-Range by tag or by a date a second old")
    func validators() {
        let modified = 1_700_000_000
        let file = HTTPValidators(size: 1000, modifiedSeconds: modified)
        #expect(file.entityTag == "\"6553f100-3e8\"")
        #expect(file.lastModified == "Tue, 14 Nov 2023 22:13:20 GMT")
        #expect(file.notModified(ifNoneMatch: file.entityTag, ifModifiedSince: nil))
        #expect(file.notModified(ifNoneMatch: "\"a\", W/\(file.entityTag)", ifModifiedSince: nil))
        #expect(file.notModified(ifNoneMatch: " * ", ifModifiedSince: nil))
        #expect(!file.notModified(ifNoneMatch: "\"a\"", ifModifiedSince: file.lastModified))
        #expect(file.notModified(ifNoneMatch: nil, ifModifiedSince: file.lastModified))
        #expect(!file.notModified(ifNoneMatch: nil, ifModifiedSince: HTTPDate.format(modified - 1)))
        #expect(!file.notModified(ifNoneMatch: nil, ifModifiedSince: "yesterday"))
        #expect(file.rangeApplies(ifRange: nil, now: modified))
        #expect(file.rangeApplies(ifRange: file.entityTag, now: modified))
        #expect(!file.rangeApplies(ifRange: "W/\(file.entityTag)", now: modified + 5))
        #expect(file.rangeApplies(ifRange: file.lastModified, now: modified + 1))
        #expect(!file.rangeApplies(ifRange: file.lastModified, now: modified), "changed within the second: not strong")
    }

    @Test("HTTP dates: written in IMF-fixdate, read back; other forms are nil")
    func dates() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun, 32 Nov 1994 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("120") == nil)
    }
}
