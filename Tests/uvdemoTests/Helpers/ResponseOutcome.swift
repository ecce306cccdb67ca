// How feeding bytes to the response parser ends, however they are cut: shared by the parser's tests
// and its fuzz target (scripts/fuzz compiles this file with -D FUZZING, beside the HTTP sources alone).
#if !FUZZING
@testable import uvdemo
#endif

/// The status, body and end of one response as the parser reported them, or the error it stopped at.
struct ResponseOutcome: Equatable, CustomStringConvertible {
    var status: Int?
    var body: [UInt8] = []
    var ended = false
    var error: HTTPParseError?

    init(status: Int? = nil, body: [UInt8] = [], ended: Bool = false, error: HTTPParseError? = nil) {
        self.status = status
        self.body = body
        self.ended = ended
        self.error = error
    }

    /// Feeds `input` in pieces cut at `cuts` (ascending), then, if the parser is not done, the
    /// connection's end.
    init(feeding input: [UInt8], cuts: [Int], method: String = "GET") {
        var parser = HTTPResponseParser(requestMethod: method)
        var outcome = ResponseOutcome()
        let handle = { (event: HTTPResponseParser.Event) in
            switch event {
            case .head(let head, _): outcome.status = head.status
            case .body(let bytes): outcome.body += bytes
            case .end: outcome.ended = true
            }
        }
        do {
            var start = 0
            for end in cuts + [input.count] where end >= start {
                _ = try input[start..<end].withUnsafeBytes { try parser.parse($0, handle) }
                start = end
            }
            if !parser.isComplete { try parser.finish(handle) }
        } catch let error as HTTPParseError {
            outcome.error = error
        } catch {
            preconditionFailure("the parser throws only HTTPParseError, not \(error)")
        }
        self = outcome
    }

    var description: String {
        let status = status.map(String.init) ?? "-"
        return "status \(status) body '\(String(decoding: body, as: UTF8.self))' ended \(ended) error \(error.map { "\($0)" } ?? "-")"
    }
}
