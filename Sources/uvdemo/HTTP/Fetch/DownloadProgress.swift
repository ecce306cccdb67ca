// A one-line progress bar on stderr for a download: bytes so far, the percentage when the length is
// known, the rate, and the time left; drawn with the first bytes, then at most ten times a second.

final class DownloadProgress {
    private let expected: Int?
    private let console: Console
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var lastDrawn: ContinuousClock.Instant?
    /// Bytes there before this transfer (a resumed file's).
    private let alreadyThere: Int
    /// Bytes this transfer brought.
    private var received = 0

    init(expected: Int?, alreadyThere: Int = 0, console: Console) {
        self.expected = expected
        self.alreadyThere = alreadyThere
        self.console = console
        start = clock.now
    }

    func advance(by count: Int) {
        received += count
        let now = clock.now
        if let lastDrawn, now - lastDrawn < .milliseconds(100) { return }
        lastDrawn = now
        draw(at: now)
    }

    /// Clears the line.
    func finish() {
        console.progress("")
    }

    private func draw(at now: ContinuousClock.Instant) {
        let rate = Double(received) / max((now - start).seconds, 0.001)
        let total = alreadyThere + received
        var line = Self.size(total)
        if let expected, expected > 0 {
            let fraction = min(Double(total) / Double(expected), 1)
            let width = 30
            let filled = Int(fraction * Double(width))
            line = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
                + "\(Int(fraction * 100))%  " + line + " of " + Self.size(expected)
            if rate > 0, total < expected { line += "  ETA " + Self.time(Double(expected - total) / rate) }
        }
        console.progress(line + "  " + Self.size(Int(rate)) + "/s")
    }

    static func size(_ bytes: Int) -> String {
        switch bytes {
        case ..<1024: "\(bytes) B"
        case ..<(1024 * 1024): fixed(Double(bytes) / 1024) + " KiB"
        case ..<(1024 * 1024 * 1024): fixed(Double(bytes) / 1048576) + " MiB"
        default: fixed(Double(bytes) / 1073741824) + " GiB"
        }
    }

    /// `0:07`, `12:34`, `1:02:03`.
    static func time(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60)
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(rest))" : "\(minutes):\(two(rest))"
    }
}
