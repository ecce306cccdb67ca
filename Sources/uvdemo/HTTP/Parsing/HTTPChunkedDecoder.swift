// The chunked transfer coding (RFC 9112 §7.1) undone incrementally: chunk sizes, chunk data, the last
// chunk and its trailer section, however the bytes are split.

/// Decodes a chunked body, passing on the chunk data and stopping after the trailer section.
struct HTTPChunkedDecoder {
    private enum State {
        case size, sizeSpace, chunkExtension, sizeLineFeed, data, dataCarriageReturn, dataLineFeed, trailers, done
    }

    /// Longest chunk-size line (size and extensions) accepted: extensions are ignored, not stored.
    static let maxSizeLineBytes = 4096
    /// Hex digits in a chunk size: 15 keeps it below 2^60, far past any real chunk, and never overflows.
    static let maxSizeDigits = 15

    private var state = State.size
    private var size = 0
    private var sizeDigits = 0
    private var sizeLineBytes = 0
    private var remaining = 0
    private var trailers: HTTPHeadReader

    init(trailerLimits: HTTPHeadReader.Limits = .init()) {
        trailers = HTTPHeadReader(limits: trailerLimits, expectsStartLine: false)
    }

    /// Whether the last chunk and the trailer section (read and checked, then dropped) have been read.
    var isComplete: Bool { state == .done }

    /// Takes bytes of the chunked body, passing each run of chunk data to `data`. Returns how many it
    /// took: all of them, or fewer when the body ended inside `bytes`.
    mutating func decode(
        _ bytes: UnsafeRawBufferPointer, data: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        var index = 0
        while index < bytes.count && state != .done {
            if state == .data {
                let take = min(remaining, bytes.count - index)
                try data(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                remaining -= take
                index += take
                if remaining == 0 { state = .dataCarriageReturn }
                continue
            }
            if state == .trailers {
                let (consumed, isComplete) = try trailers.consume(UnsafeRawBufferPointer(rebasing: bytes[index...]))
                index += consumed
                if isComplete { state = .done }
                continue
            }
            try step(bytes[index])
            index += 1
        }
        return index
    }

    /// One byte of a chunk-size line or of the CRLF after chunk data.
    private mutating func step(_ byte: UInt8) throws(HTTPParseError) {
        if state == .size || state == .sizeSpace || state == .chunkExtension || state == .sizeLineFeed {
            sizeLineBytes += 1
            guard sizeLineBytes <= Self.maxSizeLineBytes else { throw .badChunkSize }
        }
        switch state {
        case .size:
            if let digit = byte.hexDigitValue {
                sizeDigits += 1
                guard sizeDigits <= Self.maxSizeDigits else { throw .badChunkSize }
                size = size << 4 | Int(digit)
            } else if sizeDigits == 0 {
                throw .badChunkSize
            } else if byte == .carriageReturn {
                state = .sizeLineFeed
            } else if byte == UInt8(ascii: ";") {
                state = .chunkExtension
            } else if byte == .space || byte == .tab {
                state = .sizeSpace
            } else {
                throw .badChunkSize
            }
        case .sizeSpace:
            // Whitespace after the size is allowed only before an extension (BWS ";").
            if byte == UInt8(ascii: ";") {
                state = .chunkExtension
            } else if byte != .space && byte != .tab {
                throw .badChunkSize
            }
        case .chunkExtension:
            if byte == .carriageReturn {
                state = .sizeLineFeed
            } else if !byte.isFieldValueByte {
                throw .badChunkSize
            }
        case .sizeLineFeed:
            guard byte == .lineFeed else { throw .bareLineEnding }
            if size == 0 {
                state = .trailers
            } else {
                remaining = size
                state = .data
            }
            size = 0
            sizeDigits = 0
            sizeLineBytes = 0
        case .dataCarriageReturn:
            guard byte == .carriageReturn else { throw .badChunkEnd }
            state = .dataLineFeed
        case .dataLineFeed:
            guard byte == .lineFeed else { throw .badChunkEnd }
            state = .size
        case .data, .trailers, .done:
            preconditionFailure("handled by decode")
        }
    }
}
