// Message boundaries on a byte stream: TCP delivers bytes, not messages, so frames must be found again.
import CUV

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
public struct DelimiterFramer: Sendable {
    /// The byte that ends a frame; it is not part of the frame.
    public let delimiter: UInt8
    /// The longest frame accepted, without its delimiter.
    public let maximumFrameLength: Int
    private var partial: [UInt8] = []

    public init(delimiter: UInt8 = UInt8(ascii: "\n"), maximumFrameLength: Int = 64 * 1024) {
        self.delimiter = delimiter
        self.maximumFrameLength = maximumFrameLength
    }

    /// Bytes of a frame whose delimiter has not arrived yet.
    public var pendingByteCount: Int { partial.count }

    /// Feeds the next bytes of the stream and calls `onFrame` with every frame they complete, in order.
    /// A frame's bytes are valid only inside the call. Throws `.messageTooLong` when a frame grows past
    /// `maximumFrameLength`; the framer is then unusable (the stream has lost its boundaries).
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, _ onFrame: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var rest = bytes[...]
        while let end = rest.firstIndex(of: delimiter) {
            let piece = UnsafeRawBufferPointer(rebasing: rest[..<end])
            if partial.isEmpty {
                try checkLength(piece.count)
                try onFrame(piece)
            } else {
                try checkLength(partial.count + piece.count)
                partial.append(contentsOf: piece)
                let frame = partial
                partial.removeAll(keepingCapacity: true)
                try frame.withUnsafeBytes { try onFrame($0) }
            }
            rest = rest[(end + 1)...]
        }
        try checkLength(partial.count + rest.count)
        partial.append(contentsOf: rest)
    }

    private func checkLength(_ length: Int) throws(UVError) {
        guard length <= maximumFrameLength else {
            throw UVError(
                UV_EMSGSIZE.rawValue, operation: "read frame",
                detail: "a frame is longer than \(maximumFrameLength) bytes")
        }
    }
}
