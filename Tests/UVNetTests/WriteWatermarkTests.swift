// Write backpressure on the callback API: a server streaming to a slow reader is told to stop and to
// go on, so its queue stays bounded, and every byte still arrives.
import Testing
import UVNet
import UVNetTestSupport

@Suite("write watermarks")
struct WriteWatermarkTests {
    @Test("streaming 64 MiB to a slow reader keeps the queue under the high watermark plus one write; all bytes arrive")
    func slowReader() throws {
        let total = 64 << 20
        let chunk = pattern(count: 64 * 1024, seed: 9)
        let watermarks = WriteWatermarks(low: 128 * 1024, high: 512 * 1024)
        try withLoop { loop in
            let peakQueue = LoopBound(0, on: loop)
            let stops = LoopBound(0, on: loop)
            let listener = try TCPListener(on: loop, address: anyLocalPort) { accepted in
                guard case .success(let connection) = accepted else { return }
                var sent = 0
                var ending = false
                func pump() {
                    while sent < total && connection.isWritable {
                        chunk.withUnsafeBytes { connection.write($0) }
                        sent += chunk.count
                        peakQueue.value = max(peakQueue.value, connection.writeQueueSize)
                    }
                    // Once: the pump runs again on every writability change after its last write.
                    if sent == total && !ending {
                        ending = true
                        connection.shutdown { _ in connection.close() }
                    }
                }
                connection.onWritabilityChange(watermarks: watermarks) { writable in
                    if writable { pump() } else { stops.value += 1 }
                }
                pump()
            }
            let client = try TCPConnection(on: loop)
            var received = 0
            var intact = true
            var pause: Timer?
            func read() {
                client.startReading { chunkRead in
                    switch chunkRead {
                    case .success(let bytes):
                        for (offset, byte) in bytes.enumerated() where byte != chunk[(received + offset) % chunk.count] {
                            intact = false
                            break
                        }
                        let before = received
                        received += bytes.count
                        // A slow reader: a 2 ms nap after every MiB.
                        if before >> 20 != received >> 20 {
                            client.stopReading()
                            pause = try? Timer.once(after: .milliseconds(2), on: loop) { read() }
                        }
                    case .failure:
                        client.close()
                        listener.close()
                    }
                }
            }
            try client.connect(to: listener.localAddress) { _ in read() }
            loop.run()
            pause?.close()
            #expect(received == total)
            #expect(intact)
            #expect(stops.value > 0, "the reader was slow enough to be waited for")
            #expect(peakQueue.value <= watermarks.high + chunk.count, "peak \(peakQueue.value)")
        }
    }

    @Test("without a handler a stream is always writable; watermarks keep low at or below high")
    func defaults() throws {
        #expect(WriteWatermarks(low: 10, high: 5) == WriteWatermarks(low: 5, high: 5))
        #expect(WriteWatermarks.standard.high == 256 * 1024)
        try withLoop { loop in
            let connection = try TCPConnection(on: loop)
            #expect(connection.isWritable)
            connection.onWritabilityChange { _ in }
            #expect(connection.isWritable)
            connection.close()
        }
    }
}
