// Write backpressure for the callback API: a writer hears when its queue piles up and drains instead of polling.

/// When a stream's writer is told to stop (`high`) and to go on (`low`), by the bytes in its write queue.
public struct WriteWatermarks: Sendable, Hashable {
    /// At or below this many queued bytes, a writer that was stopped is told to go on.
    public var low: Int
    /// Above this many queued bytes, the writer is told to stop.
    public var high: Int

    /// `low` is kept at or below `high`.
    public init(low: Int, high: Int) {
        self.high = max(1, high)
        self.low = min(max(0, low), self.high)
    }

    /// 64 KiB and 256 KiB: the same as `inbound()`'s read-ahead limits.
    public static let standard = WriteWatermarks(low: 64 * 1024, high: 256 * 1024)
}
