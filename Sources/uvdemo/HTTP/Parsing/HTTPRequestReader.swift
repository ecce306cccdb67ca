// Requests read one after another from the bytes of a keep-alive connection: each head, then its
// body skipped (the file server has no use for one), leaving the next request's bytes in place.

struct HTTPRequestReader {
    let limits: HTTPHeadReader.Limits
    private var head: HTTPHeadReader
    private var pending: HTTPRequestHead?
    private var bodyToSkip = 0

    init(limits: HTTPHeadReader.Limits = .init()) {
        self.limits = limits
        head = HTTPHeadReader(limits: limits)
    }

    /// Takes what it can from the front of `buffer` and returns the next whole request, or nil when
    /// more bytes are needed. A request with a chunked body is refused (`unsupportedTransferEncoding`).
    mutating func next(from buffer: inout [UInt8]) throws -> HTTPRequestHead? {
        var consumed = 0
        defer { buffer.removeFirst(consumed) }
        if pending == nil {
            let (taken, isComplete) = try buffer.withUnsafeBytes { try head.consume($0) }
            consumed = taken
            guard isComplete else { return nil }
            let request = try HTTPRequestHead(requestLine: head.startLine ?? "", fields: head.fields)
            head = HTTPHeadReader(limits: limits)
            switch try HTTPBodyFraming.declared(by: request.fields, version: request.version, otherwise: .none) {
            case .length(let length): bodyToSkip = length
            case .chunked: throw HTTPParseError.unsupportedTransferEncoding("chunked")
            case .none, .untilClose: bodyToSkip = 0
            }
            pending = request
        }
        let skipped = min(bodyToSkip, buffer.count - consumed)
        bodyToSkip -= skipped
        consumed += skipped
        guard bodyToSkip == 0 else { return nil }
        defer { pending = nil }
        return pending
    }
}
