// The state machine every stream keeps, on its own: each direction ends once, later asks hear how.
@_spi(StreamLayers) import UVNet
import Testing

@Suite("A stream's life")
struct StreamLifeTests {
    @Test("reading: start, pause, end told once to a reader; a later start hears the end; a closed stream refuses")
    func reading() {
        var life = StreamLife<UVError>()
        let started = life.startReading(closed: .badFileDescriptor)
        #expect(started == nil && life.reading == .active)
        let (paused, pausedAgain) = (life.pauseReading(), life.pauseReading())
        #expect(paused && !pausedAgain && life.reading == .paused)
        let (told, toldAgain) = (life.endReading(.connectionReset), life.endReading(.eof))
        #expect(told && !toldAgain)  // the paused reader is told once; the first end stands
        let restarted = life.startReading(closed: .badFileDescriptor)
        #expect(restarted == .connectionReset && life.reading == .ended)

        var closed = StreamLife<UVError>()
        closed.close()
        let refused = closed.startReading(closed: .badFileDescriptor)
        let nobodyTold = closed.endReading(.eof)
        #expect(refused == .badFileDescriptor && !nobodyTold)
    }

    @Test("writing: the first shutdown starts, later ones join it, and after it they hear its result")
    func shutdown() {
        var life = StreamLife<UVError>()
        let heard = Heard()
        guard case .start = life.shutdown({ _ in heard.words.append("first") }) else { Issue.record("did not start"); return }
        #expect(!life.canWrite)
        guard case .joined = life.shutdown({ _ in heard.words.append("second") }) else { Issue.record("did not join"); return }
        for waiting in life.shutdownEnded(.success(())) { waiting(.success(())) }
        #expect(heard.words == ["first", "second"])
        guard case .ended(.success) = life.shutdown(nil) else { Issue.record("did not hear the result"); return }
        #expect(life.shutdownEnded(.failure(.canceled)).isEmpty)  // ended once
    }

    @Test("writability: told false past the high watermark, true at the low one, and nothing in between")
    func writability() {
        var life = StreamLife<UVError>()
        let heard = Heard()
        life.onWritabilityChange(watermarks: WriteWatermarks(low: 10, high: 100), { heard.flags.append($0) }, queued: 0)
        for queued in [50, 101, 200, 50, 10, 5, 150] {
            if let (handler, isWritable) = life.writeQueueChanged(to: { queued }) { handler(isWritable) }
        }
        #expect(heard.flags == [false, true, false])
        #expect(!life.isWritable)
        life.close()
        #expect(life.isWritable)  // the handler is let go with the stream
    }
}

/// What the callbacks of one test heard.
private final class Heard {
    var words: [String] = []
    var flags: [Bool] = []
}
