// Message boundaries on a byte stream: TCP delivers bytes, not messages, so frames must be found again.
import CUV

/// Finds frames in a byte stream fed to it piece by piece, however the pieces are cut.
public protocol Framer: Sendable {
    /// Feeds the next bytes of the stream and calls `onFrame` with every frame they complete, in order.
    /// A frame's bytes are valid only inside the call. Throws `.messageTooLong` for a frame over the
    /// limit; the framer is then unusable (the stream has lost its boundaries).
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onFrame: (UnsafeRawBufferPointer) throws -> Void) throws

    /// Bytes of a frame not yet complete (a stream that ends with some has cut a frame short).
    var pendingByteCount: Int { get }
}

/// Splits a byte stream into frames that end in a delimiter byte (lines, by default).
///
/// ```swift
/// var lines = DelimiterFramer()
/// connection.startReading { chunk in
///     guard case .success(let bytes) = chunk else { return connection.close() }
///     do {
///         try lines.feed(bytes) { line in connection.write(line) }
///     } catch {
///         connection.close()   // a line over the limit: an error for this connection only
///     }
/// }
/// ```
/// A frame that arrives whole inside one chunk is handed over without copying; only a frame split
/// across chunks is gathered, and never past `maximumFrameLength`.
public struct DelimiterFramer: Framer {
    /// The byte that ends a frame; it is not part of the frame.
    public let delimiter: UInt8
    /// The longest frame accepted, without its delimiter.
    public let maximumFrameLength: Int
    private var partial: [UInt8] = []

    /// A framer for frames ending in `delimiter`, each at most `maximumFrameLength` bytes.
    public init(delimiter: UInt8 = UInt8(ascii: "\n"), maximumFrameLength: Int = 64 * 1024) {
        self.delimiter = delimiter
        self.maximumFrameLength = maximumFrameLength
    }

    public var pendingByteCount: Int { partial.count }

    /// Throws `.messageTooLong` once a frame grows past `maximumFrameLength`.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, _ onFrame: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var rest = bytes[...]
        while let end = rest.firstIndex(of: delimiter) {
            let piece = UnsafeRawBufferPointer(rebasing: rest[..<end])
            if partial.isEmpty {
                try checkFrameLength(piece.count, maximum: maximumFrameLength)
                try onFrame(piece)
            } else {
                try checkFrameLength(partial.count + piece.count, maximum: maximumFrameLength)
                partial.append(contentsOf: piece)
                // Handed over in place and then cleared: a copy would make the clearing allocate.
                defer { partial.removeAll(keepingCapacity: true) }
                try partial.withUnsafeBytes { try onFrame($0) }
            }
            rest = rest[(end + 1)...]
        }
        try checkFrameLength(partial.count + rest.count, maximum: maximumFrameLength)
        partial.append(contentsOf: rest)
    }
}

/// Splits a byte stream into frames that each start with their length: an unsigned integer of 2 or 4
/// bytes in network byte order (big-endian), not counting itself.
///
/// ```swift
/// var frames = LengthPrefixFramer(prefix: .uint32, maximumFrameLength: 1 << 20)
/// try frames.feed(bytes) { frame in handle(frame) }
/// connection.write(LengthPrefixFramer.frame(message, prefix: .uint32))
/// ```
/// A length over `maximumFrameLength` fails once its prefix is read: what an attacker announces is never allocated.
public struct LengthPrefixFramer: Framer {
    /// The width of the length prefix.
    public enum Prefix: Int, Sendable {
        case uint16 = 2, uint32 = 4
    }

    /// The width of the length prefix.
    public let prefix: Prefix
    /// The longest frame accepted, without its prefix.
    public let maximumFrameLength: Int
    private var partial: [UInt8] = []

    /// A framer for frames behind a `prefix`-wide length, each at most `maximumFrameLength` bytes.
    public init(prefix: Prefix = .uint32, maximumFrameLength: Int = 1 << 20) {
        self.prefix = prefix
        self.maximumFrameLength = maximumFrameLength
    }

    /// Bytes of a frame (or prefix) not yet complete.
    public var pendingByteCount: Int { partial.count }

    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, _ onFrame: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var rest = bytes[...]
        // First finish a frame begun in an earlier piece, copying only the rest of its prefix, then of its body.
        if !partial.isEmpty {
            if partial.count < prefix.rawValue {
                let take = min(prefix.rawValue - partial.count, rest.count)
                partial.append(contentsOf: rest.prefix(take))
                rest = rest.dropFirst(take)
                if partial.count < prefix.rawValue { return }
            }
            let total = try wholeLength(of: partial)!
            let take = min(total - partial.count, rest.count)
            partial.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if partial.count < total { return }
            do {
                defer { partial.removeAll(keepingCapacity: true) }
                try partial.withUnsafeBytes { try onFrame(UnsafeRawBufferPointer(rebasing: $0[prefix.rawValue...])) }
            }
        }
        // Then every frame that lies whole in this piece, without copying.
        while let total = try wholeLength(of: rest), rest.count >= total {
            let frame = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + prefix.rawValue)..<(rest.startIndex + total)])
            try onFrame(frame)
            rest = rest.dropFirst(total)
        }
        partial.append(contentsOf: rest)
    }

    /// Prefix plus frame length, once the prefix is all there; nil before.
    private func wholeLength<Bytes: Collection<UInt8>>(of bytes: Bytes) throws(UVError) -> Int? {
        guard bytes.count >= prefix.rawValue else { return nil }
        let length = bytes.prefix(prefix.rawValue).reduce(0) { $0 << 8 | Int($1) }
        try checkFrameLength(length, maximum: maximumFrameLength)
        return prefix.rawValue + length
    }

    /// `message` after its length prefix, ready to write. Throws `.messageTooLong` when the length does not fit.
    public static func frame(_ message: [UInt8], prefix: Prefix = .uint32) throws(UVError) -> [UInt8] {
        let limit = prefix == .uint16 ? Int(UInt16.max) : Int(UInt32.max)
        try checkFrameLength(message.count, maximum: limit)
        let length = (0..<prefix.rawValue).reversed().map { UInt8(truncatingIfNeeded: message.count >> ($0 * 8)) }
        return length + message
    }
}

private func checkFrameLength(_ length: Int, maximum: Int) throws(UVError) {
    guard length <= maximum else {
        throw UVError(
            UV_EMSGSIZE.rawValue, operation: "read frame",
            detail: "a frame of \(length) bytes is longer than the \(maximum) allowed")
    }
}
