// The load generator: N connections (or UDP sockets) ping-ponging messages with an echo server,
// every echoed byte checked, latency in an HDR histogram. Bounded by --duration; loopback by default.
import ArgumentParser
import Glibc
import Histogram
import UVNet
import UVNetTLS

struct Load: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo load --port 9000 --duration 5",
        "uvdemo load --udp --port 9000 --connections 4 --json",
        "uvdemo load --tls --cacert ca.pem --host localhost --port 9443 --size 16384",
    ]

    static let configuration = CommandConfiguration(
        abstract: "Load-test an echo server: ping-pong messages, check every byte, report rate and latency.",
        discussion: """
            Exit 0 when every byte matched and no connection failed, 1 otherwise. With --tls each \
            connection makes its handshake (verifying the server as echo-client --tls does) before the \
            clock starts counting its messages.
            """)

    @Option(help: "Echo server address.") var host = "127.0.0.1"
    @Option(help: "Echo server port.") var port = 9000
    @Option(help: "Connections (or UDP sockets).") var connections = 10
    @Option(help: "Message size in bytes.") var size = 1024
    @Option(help: "Seconds to run.") var duration: Double = 5
    @Option(help: "Messages in flight per connection.") var depth = 1
    @Flag(help: "Use UDP datagrams (an 8-byte sequence number, then the pattern).") var udp = false
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Speak TLS to the server (see echo-server --tls-cert).") var tls = false
    @OptionGroup var trust: TLSClientOptions
    @OptionGroup var threadPool: ThreadPoolOption

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("port \(port) is not in 0...65535") }
        guard (1...10_000).contains(connections) else { throw ValidationError("--connections must be in 1...10000") }
        guard (1...64).contains(depth) else { throw ValidationError("--depth must be in 1...64") }
        guard duration > 0, duration <= 3600 else { throw ValidationError("--duration must be in (0, 3600] seconds") }
        guard !(tls && udp) else { throw ValidationError("--tls is for TCP, not --udp") }
        guard tls || !trust.isGiven else { throw ValidationError("--cacert, --insecure and --cert go with --tls") }
        let smallest = udp ? LoadPattern.sequenceLength + 1 : 1
        let largest = udp ? UDPSocket.maximumPayload : 64 << 20
        guard (smallest...largest).contains(size) else { throw ValidationError("--size must be in \(smallest)...\(largest)") }
    }

    func run() throws {
        threadPool.apply()
        let loop = try Loop()
        let console = Console.standard
        let run = LoadRun(loop: loop, console: console, size: size, depth: depth, duration: .milliseconds(Int(duration * 1000)))
        if udp {
            UDPLoad.start(run, host: host, port: port, sockets: connections)
        } else {
            TCPLoad.start(run, host: host, port: port, connections: connections, tls: tls ? try trust.context() : nil)
        }
        try run.start(progress: console.showsProgress)
        loop.run()
        try loop.close()
        let report = run.report(connections: connections, protocolName: udp ? "udp" : tls ? "tls" : "tcp")
        console.write((json ? report.json : report.text) + "\n")
        if let failure = run.failure {
            throw DemoFailure(message: failure, exitCode: DemoFailure.remoteRefused)
        }
    }
}

/// The pattern every message is cut from, at an offset that changes with the connection and the
/// message number, so a dropped, repeated, reordered or corrupted byte is caught.
struct LoadPattern {
    static let sequenceLength = 8
    let bytes: [UInt8]
    let size: Int

    init(size: Int) {
        self.size = size
        bytes = (0..<(size + 4096)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 8) &* 7) }
    }

    func offset(of message: Int, on connection: Int) -> Int {
        (message &* 7 &+ connection &* 131) % 4096
    }

    /// Whether `received` equals the pattern from `offset` on (memcmp: the client must stay cheap).
    func matches(_ received: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard offset + received.count <= bytes.count else { return false }
        return bytes.withUnsafeBytes { all in
            received.isEmpty || memcmp(all.baseAddress! + offset, received.baseAddress!, received.count) == 0
        }
    }
}

/// One load run: counters, the latency histogram, the clock, and the end.
final class LoadRun {
    let loop: Loop
    private let console: Console
    let pattern: LoadPattern
    let depth: Int
    let duration: Duration
    private(set) var isStopping = false
    private(set) var failure: String?
    var messages = 0
    var errors = 0
    var mismatches = 0
    private var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    private let clock = ContinuousClock()
    private var started: ContinuousClock.Instant
    private var stopped: ContinuousClock.Instant?
    private var onStop: [() -> Void] = []
    private var onEnd: [() -> Void] = []
    private var timer: Timer?

    init(loop: Loop, console: Console, size: Int, depth: Int, duration: Duration) {
        self.loop = loop
        self.console = console
        pattern = LoadPattern(size: size)
        self.depth = depth
        self.duration = duration
        started = clock.now
    }

    var now: ContinuousClock.Instant { clock.now }

    func record(sentAt: ContinuousClock.Instant) {
        messages += 1
        let elapsed = (clock.now - sentAt).components
        _ = latency.record(UInt64(elapsed.seconds) * 1_000_000_000 + UInt64(elapsed.attoseconds / 1_000_000_000))
    }

    func fail(_ message: String) {
        errors += 1
        if failure == nil { failure = message }
    }

    func mismatch(_ message: String) {
        mismatches += 1
        if failure == nil { failure = message }
    }

    /// `stop` runs when the time is up (stop sending); `end` two seconds later, to close whatever still
    /// waits for an echo.
    func whenDone(stop: @escaping () -> Void, end: @escaping () -> Void) {
        onStop.append(stop)
        onEnd.append(end)
    }

    /// Starts the clock; after `duration` sends stop, and two seconds later whatever is still open closes.
    func start(progress: Bool) throws {
        started = clock.now
        let timer = try Timer(on: loop)
        self.timer = timer
        var ticks = 0
        let seconds = Int((duration / .seconds(1)).rounded(.up))
        timer.start(after: .seconds(1), repeating: .seconds(1)) { [self] in
            ticks += 1
            if progress && ticks < seconds {
                console.progress("load: \(ticks)/\(seconds) s, \(messages) messages, \(errors + mismatches) problems")
            }
        }
        let end = try Timer(on: loop)
        end.start(after: duration) { [self] in
            if progress { console.progress("") }
            stopped = clock.now
            isStopping = true
            timer.close()
            for action in onStop { action() }
            // Echoes still in flight get two seconds; then everything closes.
            end.start(after: .seconds(2)) { [self] in
                end.close()
                for action in onEnd { action() }
            }
            end.unref()
        }
    }

    struct Report {
        let text: String
        let json: String
    }

    /// `protocolName`: udp, tcp or tls.
    func report(connections: Int, protocolName: String) -> Report {
        let elapsed = (stopped ?? clock.now) - started
        let seconds = elapsed.seconds
        let rate = Double(messages) / seconds
        let mebibytes = rate * Double(pattern.size) / 1_048_576
        func micros(_ percentile: Double) -> Double { Double(latency.valueAtPercentile(percentile)) / 1000 }
        let maximum = Double(latency.max) / 1000
        let text = """
            \(protocolName) \(connections) x \(pattern.size) B, depth \(depth), \(fixed(seconds)) s: \
            \(fixed(rate, digits: 0)) msgs/s, \(fixed(mebibytes)) MiB/s, latency p50 \(fixed(micros(50))) µs \
            p90 \(fixed(micros(90))) µs p99 \(fixed(micros(99))) µs max \(fixed(maximum)) µs, \
            \(errors) errors, \(mismatches) mismatches
            """
        let json = """
            {"protocol":"\(protocolName)","connections":\(connections),"size":\(pattern.size),\
            "depth":\(depth),"seconds":\(seconds),"messages":\(messages),"messages_per_second":\(rate),\
            "mib_per_second":\(mebibytes),"latency_us":{"p50":\(micros(50)),"p90":\(micros(90)),\
            "p99":\(micros(99)),"max":\(maximum)},"errors":\(errors),"mismatches":\(mismatches)}
            """
        return Report(text: text, json: json)
    }
}

/// `value` with `digits` decimals (0 or 1), without Foundation's formatter.
func fixed(_ value: Double, digits: Int = 1) -> String {
    guard value.isFinite else { return "\(value)" }
    if digits == 0 { return "\(Int(value.rounded()))" }
    let tenths = Int((value * 10).rounded())
    return "\(tenths / 10).\(abs(tenths % 10))"
}
