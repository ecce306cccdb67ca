// The response parser on its own: a table of good and bad responses, each fed whole, split in two at
// every byte boundary, and one byte at a time, which must all end the same way.
import Testing

@testable import uvdemo

@Suite("HTTP response parser")
struct HTTPResponseParserTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Feeds `response` whole, split in two at every byte boundary, and byte by byte; records every way
    /// of cutting that ends differently from feeding it whole, and returns that outcome.
    static func fedEveryWay(_ response: [UInt8], method: String = "GET") -> ResponseOutcome {
        let whole = ResponseOutcome(feeding: response, cuts: [], method: method)
        for cut in 0...response.count {
            let split = ResponseOutcome(feeding: response, cuts: [cut], method: method)
            guard split == whole else {
                Issue.record("split at \(cut): \(split); fed whole: \(whole)")
                return whole
            }
        }
        let byteByByte = ResponseOutcome(feeding: response, cuts: Array(0...response.count), method: method)
        #expect(byteByByte == whole, "fed byte by byte: \(byteByByte); fed whole: \(whole)")
        return whole
    }

    static let good: [(String, String, Int, String)] = [
        ("Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello"),
        ("Content-Length: 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, ""),
        ("agreeing duplicate lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-length: 3, 3\r\n\r\nabc", 200, "abc"),
        ("chunked, with extension and trailers",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;name=\"v\"\r\n world\r\nA \t; x\r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n",
         200, "hello world0123456789"),
        ("chunked, case-insensitive coding, no trailers", "HTTP/1.1 201 Created\r\ntransfer-encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 201, "abc"),
        ("until close (HTTP/1.0)", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end", 200, "until the end"),
        ("until close, empty body", "HTTP/1.1 200 OK\r\n\r\n", 200, ""),
        ("no reason phrase", "HTTP/1.1 404\r\nContent-Length: 2\r\n\r\nno", 404, "no"),
        ("empty reason phrase", "HTTP/1.1 204 \r\n\r\n", 204, ""),
        ("204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 204, ""),
        ("304 has no body", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 304, ""),
        ("interim responses are skipped",
         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, "x"),
        ("spaces around values", "HTTP/1.1 200 OK\r\nContent-Length:   4  \r\n\r\nbody", 200, "body"),
        ("tab and punctuation in a value", "HTTP/1.1 200 OK\r\nX-Y:\ta, b; c=\"d\"\r\nContent-Length: 0\r\n\r\n", 200, ""),
    ]

    @Test("good responses parse the same however they are split", arguments: good)
    func goodResponses(name: String, response: String, status: Int, body: String) {
        #expect(Self.fedEveryWay(Self.bytes(response)) == ResponseOutcome(status: status, body: Self.bytes(body), ended: true))
    }

    @Test("a response to HEAD has no body, whatever its length says")
    func headHasNoBody() {
        let response = Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        #expect(Self.fedEveryWay(response, method: "HEAD") == ResponseOutcome(status: 200, ended: true))
    }

    @Test("obs-text (bytes over 0x7F) is allowed in a value")
    func obsText() {
        let response = Self.bytes("HTTP/1.1 200 OK\r\nX-Name: caf") + [0xC3, 0xA9] + Self.bytes("\r\nContent-Length: 0\r\n\r\n")
        #expect(Self.fedEveryWay(response) == ResponseOutcome(status: 200, ended: true))
    }

    static let bad: [(String, String, HTTPParseError)] = [
        ("HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n", .badStartLine("HTTP/2 200 OK")),
        ("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", .badStartLine("HTTP/1.1 20 OK")),
        ("status over 599", "HTTP/1.1 600 Odd\r\n\r\n", .badStartLine("HTTP/1.1 600 Odd")),
        ("status under 100", "HTTP/1.1 099 Odd\r\n\r\n", .badStartLine("HTTP/1.1 099 Odd")),
        ("lower-case version", "http/1.1 200 OK\r\n\r\n", .badStartLine("http/1.1 200 OK")),
        ("empty start line", "\r\n\r\n", .badStartLine("")),
        ("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", .bareLineEnding),
        ("bare CR", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", .bareLineEnding),
        ("obsolete line folding", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\n\r\n", .obsoleteLineFolding),
        ("space before the colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", .badHeaderField("Content-Length : 0")),
        ("no colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", .badHeaderField("NoColon")),
        ("empty name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", .badHeaderField(": x")),
        ("control byte in a value", "HTTP/1.1 200 OK\r\nX: a\u{1}b\r\n\r\n", .badHeaderField("X: a\\x01b")),
        ("both TE and CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         .transferEncodingWithContentLength),
        ("conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", .conflictingContentLengths),
        ("conflicting lengths in one field", "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd", .conflictingContentLengths),
        ("negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .badContentLength("-1")),
        ("signed length", "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", .badContentLength("+1")),
        ("hex length", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", .badContentLength("0x10")),
        ("empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", .badContentLength("")),
        ("overflowing length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
         .badContentLength("99999999999999999999999")),
        ("gzip transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
         .unsupportedTransferEncoding("gzip, chunked")),
        ("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         .unsupportedTransferEncoding("chunked, chunked")),
        ("Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         .unsupportedTransferEncoding("chunked")),
        ("chunk size not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", .badChunkSize),
        ("empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .badChunkSize),
        ("signed chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", .badChunkSize),
        ("overflowing chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", .badChunkSize),
        ("space without an extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", .badChunkSize),
        ("chunk size line ended by LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n", .badChunkSize),
        ("chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n", .badChunkEnd),
        ("chunk data ended by LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", .badChunkEnd),
        ("malformed trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
         .badHeaderField("bad trailer")),
        ("switching protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", .unexpectedSwitchingProtocols),
        ("nothing at all", "", .truncated("before sending a response")),
        ("half a head", "HTTP/1.1 200 OK\r\nContent-Le", .truncated("in the middle of the response head")),
        ("short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", .truncated("after 5 of 10 body bytes")),
        ("unfinished chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
         .truncated("in the middle of the chunked body, after 5 bytes")),
        ("chunked body without its last chunk's trailer end", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
         .truncated("in the middle of the chunked body, after 0 bytes")),
    ]

    @Test("bad responses fail with the same error however they are split", arguments: bad)
    func badResponses(name: String, response: String, error: HTTPParseError) {
        #expect(Self.fedEveryWay(Self.bytes(response)).error == error, "\(name)")
    }

    @Test("the header section is capped at 64 KiB and 100 fields; the caps themselves are allowed")
    func headerLimits() {
        let start = "HTTP/1.1 200 OK\r\n"
        let end = "Content-Length: 0\r\n\r\n"
        let hundred = start + (1...99).map { "X-\($0): v\r\n" }.joined() + end
        #expect(ResponseOutcome(feeding: Self.bytes(hundred), cuts: []) == ResponseOutcome(status: 200, ended: true))
        let hundredAndOne = start + (1...100).map { "X-\($0): v\r\n" }.joined() + end
        #expect(ResponseOutcome(feeding: Self.bytes(hundredAndOne), cuts: []).error == .tooManyFields(limit: 100))

        let filler = 64 * 1024 - start.utf8.count - end.utf8.count - "X: \r\n".utf8.count
        let exactly = start + "X: " + String(repeating: "a", count: filler) + "\r\n" + end
        #expect(exactly.utf8.count == 64 * 1024)
        #expect(ResponseOutcome(feeding: Self.bytes(exactly), cuts: [100, 40000]) == ResponseOutcome(status: 200, ended: true))
        let over = start + "X: " + String(repeating: "a", count: filler + 1) + "\r\n" + end
        #expect(ResponseOutcome(feeding: Self.bytes(over), cuts: [100, 40000]).error == .headTooLarge(limit: 64 * 1024))
        // A server that never ends its head is cut off at the cap, not buffered without end.
        let endless = start + String(repeating: "X: y\r\n", count: 90) + "Y: " + String(repeating: "z", count: 100_000)
        #expect(ResponseOutcome(feeding: Self.bytes(endless), cuts: []).error == .headTooLarge(limit: 64 * 1024))
    }

    @Test("chunk-size lines are capped, so endless extensions are refused")
    func chunkExtensionLimit() {
        let response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "e", count: 5000) + "\r\nhello\r\n0\r\n\r\n"
        #expect(ResponseOutcome(feeding: Self.bytes(response), cuts: []).error == .badChunkSize)
    }

    @Test("a large chunked body arrives intact through odd splits")
    func largeChunkedBody() {
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        var response = Self.bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        var offset = 0
        for size in [1, 0xFFFF, 4096, 100_000] + Array(repeating: 37, count: 100) {
            let take = min(size, payload.count - offset)
            response += Self.bytes(String(take, radix: 16) + "\r\n") + payload[offset..<(offset + take)] + Self.bytes("\r\n")
            offset += take
        }
        response += Self.bytes(String(payload.count - offset, radix: 16) + "\r\n") + payload[offset...] + Self.bytes("\r\n0\r\n\r\n")
        let cuts = stride(from: 3, to: response.count, by: 8191).map { $0 }
        #expect(ResponseOutcome(feeding: response, cuts: cuts) == ResponseOutcome(status: 200, body: payload, ended: true))
    }

    @Test("bytes after a framed response are left untaken")
    func bytesAfterTheResponse() throws {
        var parser = HTTPResponseParser()
        let response = Self.bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabEXTRA")
        var ended = false
        let taken = try response.withUnsafeBytes { bytes in
            try parser.parse(bytes) { if case .end = $0 { ended = true } }
        }
        #expect(ended && parser.isComplete)
        #expect(taken == response.count - 5)
    }
}
