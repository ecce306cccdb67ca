// UVNet's micro-benchmarks: allocations and time per echoed message (callback and async servers),
// timers, addresses, the resolver's numeric path and framing. Run with Benchmarks/micro.
import Benchmark
import UVNet

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 100,
        maxDuration: .seconds(2),
        maxIterations: 200_000)

    // One message per iteration, so the malloc count is per echoed message: client and server
    // together, in this one process, on one loop.
    for size in [64, 1024] {
        for api in EchoRoundTrip.ServerAPI.allCases {
            let trip = MadeOnFirstUse<EchoRoundTrip> { try EchoRoundTrip(size: size, api: api) }
            Benchmark("TCP echo round trip, \(api) server, \(size) B") { benchmark in
                let echo = trip.value
                benchmark.startMeasurement()
                echo.roundTrip()
                benchmark.stopMeasurement()
            }
        }
    }

    let timers = MadeOnFirstUse<Timer> { try Timer(on: Loop()) }
    Benchmark("Timer start + stop", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let timer = timers.value
        for _ in benchmark.scaledIterations {
            timer.start(after: .seconds(60)) {}
            timer.stop()
        }
    }

    Benchmark("SocketAddress parse + format", configuration: .init(scalingFactor: .kilo)) { benchmark in
        for index in benchmark.scaledIterations {
            let text = index & 1 == 0 ? "192.168.10.20:8080" : "[2001:db8::7]:443"
            blackHole((try? SocketAddress(parsing: text))?.description)
        }
    }

    let resolverLoop = MadeOnFirstUse<Loop> { try Loop() }
    Benchmark("Resolver, numeric host (no lookup)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let loop = resolverLoop.value
        for _ in benchmark.scaledIterations {
            Resolver.resolve(host: "127.0.0.1", service: "8080", on: loop) { blackHole($0) }
        }
    }

    // One iteration decodes 1 MiB of 100-byte frames (with 4-byte prefixes), fed in 64 KiB reads.
    let stream = framedStream(frameLength: 100, totalBytes: 1 << 20)
    Benchmark("LengthPrefixFramer decode, 1 MiB of 100 B frames") { benchmark in
        var framer = LengthPrefixFramer()
        var frames = 0
        stream.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + 65536, bytes.count)
                try? framer.feed(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { _ in frames += 1 }
                offset = end
            }
        }
        precondition(frames == stream.count / 104, "framing lost frames")
    }
}

func framedStream(frameLength: Int, totalBytes: Int) -> [UInt8] {
    let frame = try! LengthPrefixFramer.frame([UInt8](repeating: 0x5A, count: frameLength))
    return Array((0..<(totalBytes / frame.count)).lazy.flatMap { _ in frame })
}
