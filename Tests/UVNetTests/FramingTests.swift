// Delimiter framing: the same frames whichever way the stream is cut, and a limit on frame length.
import Testing
import UVNet
import UVNetTestSupport

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

@Suite("Length-prefix framing")
struct LengthPrefixFramingTests {
    private func frames(of stream: [UInt8], cutAt cuts: [Int], prefix: LengthPrefixFramer.Prefix, maximum: Int = 1 << 16)
        throws -> [[UInt8]]
    {
        var framer = LengthPrefixFramer(prefix: prefix, maximumFrameLength: maximum)
        var frames: [[UInt8]] = []
        var start = 0
        for end in cuts + [stream.count] {
            try stream[start..<end].withUnsafeBytes { chunk in try framer.feed(chunk) { frames.append(Array($0)) } }
            start = end
        }
        return frames
    }

    @Test("frames survive every split of the stream, for both prefix widths", arguments: [LengthPrefixFramer.Prefix.uint16, .uint32])
    func everySplit(prefix: LengthPrefixFramer.Prefix) throws {
        let messages: [[UInt8]] = [[], Array("hello".utf8), pattern(count: 300), [0]]
        let stream = try messages.flatMap { try LengthPrefixFramer.frame($0, prefix: prefix) }
        #expect(try frames(of: stream, cutAt: [], prefix: prefix) == messages)
        for cut in 0...stream.count {
            #expect(try frames(of: stream, cutAt: [cut], prefix: prefix) == messages, "cut at \(cut)")
        }
        for cut in 0..<(stream.count - 2) {
            #expect(try frames(of: stream, cutAt: [cut, cut + 1, cut + 2], prefix: prefix) == messages)
        }
        #expect(try frames(of: stream, cutAt: Array(0...stream.count), prefix: prefix) == messages)
    }

    @Test("the length is in network byte order")
    func byteOrder() throws {
        #expect(try LengthPrefixFramer.frame([7, 7, 7], prefix: .uint16) == [0, 3, 7, 7, 7])
        #expect(try LengthPrefixFramer.frame(pattern(count: 258), prefix: .uint32).prefix(4) == [0, 0, 1, 2])
        #expect(throws: UVError.messageTooLong) { try LengthPrefixFramer.frame(pattern(count: 70_000), prefix: .uint16) }
    }

    @Test("an announced length over the limit is an error before any of it arrives")
    func oversized() throws {
        let announcement: [UInt8] = [0x7f, 0xff, 0xff, 0xff]  // 2 GiB, says the peer
        var framer = LengthPrefixFramer(prefix: .uint32, maximumFrameLength: 1024)
        #expect(throws: UVError.messageTooLong) {
            try announcement.withUnsafeBytes { try framer.feed($0) { _ in } }
        }
        #expect(framer.pendingByteCount <= 4)
        #expect(throws: UVError.messageTooLong) {
            try frames(of: announcement + [1, 2, 3], cutAt: [2], prefix: .uint32, maximum: 1024)
        }
    }
}
