// An HTTP/1.x response (RFC 9112) parsed incrementally from the bytes a connection delivers, however
// they are split: the head, then the body by the framing the head declares. It knows nothing of
// sockets, so it can be tested and fuzzed alone.

/// Parses one response to a request made with `requestMethod`.
struct HTTPResponseParser {
    enum Event {
        /// The final response's head (interim 1xx responses are skipped), and how its body is framed.
        case head(HTTPResponseHead, HTTPBodyFraming)
        /// Bytes of the body, valid only during the call.
        case body(UnsafeRawBufferPointer)
        /// The response is complete.
        case end
    }

    private enum Phase { case head, body, done }

    let requestMethod: String
    let limits: HTTPHeadReader.Limits
    private var phase = Phase.head
    private var head: HTTPHeadReader
    private var framing = HTTPBodyFraming.none
    private var chunked: HTTPChunkedDecoder
    private(set) var bodyBytesSeen = 0

    init(requestMethod: String = "GET", limits: HTTPHeadReader.Limits = .init()) {
        self.requestMethod = requestMethod
        self.limits = limits
        head = HTTPHeadReader(limits: limits)
        chunked = HTTPChunkedDecoder(trailerLimits: limits)
    }

    var isComplete: Bool { phase == .done }

    /// Takes bytes of the response and reports what they complete to `handle`. Returns how many bytes
    /// it took: all of them, or fewer when the response ended inside `bytes` (the rest is not its own).
    @discardableResult
    mutating func parse(_ bytes: UnsafeRawBufferPointer, _ handle: (Event) throws -> Void) throws -> Int {
        var index = 0
        while index < bytes.count && phase != .done {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[index...])
            switch phase {
            case .head:
                let (consumed, isComplete) = try head.consume(rest)
                index += consumed
                if isComplete { try headDidEnd(handle) }
            case .body:
                index += try parseBody(rest, handle)
            case .done:
                break
            }
        }
        return index
    }

    /// The connection closed: ends a body read until close, or throws if the response is incomplete.
    mutating func finish(_ handle: (Event) throws -> Void) throws {
        switch phase {
        case .done: return
        case .body where framing == .untilClose: try end(handle)
        case .head where head.byteCount == 0: throw HTTPParseError.truncated("before sending a response")
        case .head: throw HTTPParseError.truncated("in the middle of the response head")
        case .body:
            if case .length(let length) = framing {
                throw HTTPParseError.truncated("after \(bodyBytesSeen) of \(length) body bytes")
            }
            throw HTTPParseError.truncated("in the middle of the chunked body, after \(bodyBytesSeen) bytes")
        }
    }

    private mutating func headDidEnd(_ handle: (Event) throws -> Void) throws {
        let response = try HTTPResponseHead(statusLine: head.startLine ?? "", fields: head.fields)
        head = HTTPHeadReader(limits: limits)
        if response.status == 101 { throw HTTPParseError.unexpectedSwitchingProtocols }
        // An interim response (100 Continue, 103 Early Hints): the final one follows.
        if response.status < 200 { return }
        let hasNoBody = requestMethod == "HEAD" || response.status == 204 || response.status == 304
        framing =
            hasNoBody ? .none : try HTTPBodyFraming.declared(by: response.fields, version: response.version, otherwise: .untilClose)
        try handle(.head(response, framing))
        switch framing {
        case .none, .length(0): try end(handle)
        case .length, .chunked, .untilClose: phase = .body
        }
    }

    private mutating func parseBody(_ bytes: UnsafeRawBufferPointer, _ handle: (Event) throws -> Void) throws -> Int {
        switch framing {
        case .length(let length):
            let take = min(length - bodyBytesSeen, bytes.count)
            try deliver(UnsafeRawBufferPointer(rebasing: bytes[..<take]), handle)
            if bodyBytesSeen == length { try end(handle) }
            return take
        case .chunked:
            var delivered = 0
            let consumed = try chunked.decode(bytes) { data in
                delivered += data.count
                try handle(.body(data))
            }
            bodyBytesSeen += delivered
            if chunked.isComplete { try end(handle) }
            return consumed
        case .untilClose:
            try deliver(bytes, handle)
            return bytes.count
        case .none:
            return 0
        }
    }

    private mutating func deliver(_ bytes: UnsafeRawBufferPointer, _ handle: (Event) throws -> Void) throws {
        guard !bytes.isEmpty else { return }
        bodyBytesSeen += bytes.count
        try handle(.body(bytes))
    }

    private mutating func end(_ handle: (Event) throws -> Void) throws {
        phase = .done
        try handle(.end)
    }
}
