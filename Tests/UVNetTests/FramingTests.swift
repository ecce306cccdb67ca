// Delimiter framing: the same frames whichever way the stream is cut, and a limit on frame length.
import Testing
import UVNet

@Suite("Framing")
struct FramingTests {
    private func frames(of stream: [UInt8], cutAt cuts: [Int], maximum: Int = 1024) throws -> [String] {
        var framer = DelimiterFramer(maximumFrameLength: maximum)
        var frames: [String] = []
        var start = 0
        for end in cuts + [stream.count] {
            try stream[start..<end].withUnsafeBytes { chunk in
                try framer.feed(chunk) { frames.append(String(decoding: $0, as: UTF8.self)) }
            }
            start = end
        }
        return frames
    }

    @Test("a stream split at every byte boundary decodes to the same lines")
    func everySplit() throws {
        let stream = Array("first\nsecond line\n\nlast, unfinished".utf8)
        let whole = try frames(of: stream, cutAt: [])
        #expect(whole == ["first", "second line", ""])
        for cut in 0...stream.count {
            #expect(try frames(of: stream, cutAt: [cut]) == whole, "cut at \(cut)")
        }
        #expect(try frames(of: stream, cutAt: Array(0...stream.count)) == whole, "one byte at a time")
    }

    @Test("a frame over the limit is an error, whether it arrives whole or in pieces")
    func tooLong() throws {
        let stream = Array((String(repeating: "x", count: 100) + "\n").utf8)
        #expect(throws: UVError.messageTooLong) { try frames(of: stream, cutAt: [], maximum: 99) }
        #expect(throws: UVError.messageTooLong) { try frames(of: stream, cutAt: [50], maximum: 99) }
        #expect(try frames(of: stream, cutAt: [50], maximum: 100).count == 1)
        // Without a delimiter the partial frame alone must not grow past the limit either.
        #expect(throws: UVError.messageTooLong) { try frames(of: Array(stream.dropLast()), cutAt: [30, 60], maximum: 99) }
    }
}
