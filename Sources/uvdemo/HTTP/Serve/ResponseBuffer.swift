// The memory one connection's responses are assembled in and sent from: the head, then as much of
// the file as fits, so a small file leaves in one write; reused by every response on the connection.
import UVNet

final class ResponseBuffer {
    /// The most a buffer grows to: a larger file goes out in pieces of this size.
    static let largest = 256 * 1024
    /// What a buffer starts with, and shrinks back to after a large response (so that an idle
    /// keep-alive connection does not hold a large one).
    static let initial = 16 * 1024
    private var memory: UnsafeMutableRawBufferPointer
    /// How many bytes are filled, from the start.
    private(set) var count = 0

    init() {
        memory = .allocate(byteCount: Self.initial, alignment: 16)
    }

    deinit {
        memory.deallocate()
    }

    /// The filled bytes.
    var filled: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: memory[..<count]) }

    /// Room after the filled bytes for up to `wanted` more, growing the buffer (to at most `largest`,
    /// or what is filled, if more) to fit.
    func room(for wanted: Int) -> UnsafeMutableRawBufferPointer {
        let needed = count + wanted
        if needed > memory.count && memory.count < Self.largest {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: min(max(needed, memory.count * 2), Self.largest), alignment: 16)
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: memory[..<count]))
            memory.deallocate()
            memory = grown
        }
        return UnsafeMutableRawBufferPointer(rebasing: memory[count..<min(needed, memory.count)])
    }

    /// Counts `written` bytes put in `room(for:)` as filled.
    func didFill(_ written: Int) {
        count += written
    }

    func removeAll() {
        count = 0
    }

    /// Empties the buffer and gives back memory beyond `initial`.
    func shrink() {
        count = 0
        guard memory.count > Self.initial else { return }
        memory.deallocate()
        memory = .allocate(byteCount: Self.initial, alignment: 16)
    }

    func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        let room = room(for: bytes.count)
        precondition(room.count == bytes.count, "ResponseBuffer: a head larger than \(Self.largest) bytes")
        room.copyMemory(from: bytes)
        count += bytes.count
    }

    /// Appends `value` in decimal digits.
    func append(decimal value: Int) {
        precondition(value >= 0)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for the 20 digits of any Int
        var rest = UInt(value)
        var length = 0
        withUnsafeMutableBytes(of: &digits) { scratch in
            repeat {
                length += 1
                scratch[scratch.count - length] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            append(UnsafeRawBufferPointer(rebasing: scratch[(scratch.count - length)...]))
        }
    }

    /// A header field line: `name: value\r\n`.
    func field(_ name: String, _ value: String) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }
}

extension ByteStream {
    /// Sends `buffer`'s filled bytes from where they are (borrowed, not copied, until the kernel has
    /// them all), then empties the buffer for the next piece.
    func send(_ buffer: ResponseBuffer) async throws {
        defer { buffer.removeAll() }
        try await write(borrowing: buffer.filled)
    }
}
