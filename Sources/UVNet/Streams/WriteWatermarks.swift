// Write backpressure for the callback API: a writer hears when a slow peer has let too much pile up
// in the write queue, and when it has drained, instead of polling writeQueueSize.

/// The bytes a stream's write queue may hold before its writer is told to stop (`high`), and the
/// level it must fall back to before the writer is told to go on (`low`).
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
