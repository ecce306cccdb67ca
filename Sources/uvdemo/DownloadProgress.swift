// A one-line progress bar on stderr for a download: bytes so far, the percentage when the length is
// known, and the rate; drawn with the first bytes, then redrawn at most ten times a second.

final class DownloadProgress {
    private let expected: Int?
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var lastDrawn: ContinuousClock.Instant?
    private var received = 0

    init(expected: Int?) {
        self.expected = expected
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
        Output.progress("")
    }

    private func draw(at now: ContinuousClock.Instant) {
        let rate = Double(received) / max((now - start).seconds, 0.001)
        var line = Self.size(received)
        if let expected, expected > 0 {
            let fraction = min(Double(received) / Double(expected), 1)
            let width = 30
            let filled = Int(fraction * Double(width))
            line = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
                + "\(Int(fraction * 100))%  " + line + " of " + Self.size(expected)
        }
        Output.progress(line + "  " + Self.size(Int(rate)) + "/s")
    }

    private static func size(_ bytes: Int) -> String {
        switch bytes {
        case ..<1024: "\(bytes) B"
        case ..<(1024 * 1024): fixed(Double(bytes) / 1024) + " KiB"
        case ..<(1024 * 1024 * 1024): fixed(Double(bytes) / 1048576) + " MiB"
        default: fixed(Double(bytes) / 1073741824) + " GiB"
        }
    }
}
