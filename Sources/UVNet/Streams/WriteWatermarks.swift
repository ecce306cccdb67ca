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

extension StreamConnection {
    /// Calls `handler(false)` when more than `watermarks.high` bytes wait in the write queue, and
    /// `handler(true)` once they have drained to `watermarks.low`, on the loop's thread. A producer
    /// stops on false and goes on at true, so a peer that reads slowly costs at most about `high`
    /// plus one write of memory:
    ///
    /// ```swift
    /// connection.onWritabilityChange { writable in     // an echo: read only while the peer keeps up
    ///     if writable { connection.startReading(echo) } else { connection.stopReading() }
    /// }
    /// ```
    /// Only what the kernel did not take at once is queued, so a fast peer never makes it false.
    /// `nil` stops the calls. (The async `write` needs none of this: it returns once the kernel has
    /// the bytes, so a writing task waits by itself.)
    public func onWritabilityChange(watermarks: WriteWatermarks = .standard, _ handler: ((Bool) -> Void)?) {
        checkThread()
        life.onWritabilityChange(watermarks: watermarks, handler, queued: writeQueueSize)
    }

    /// False while a writability handler is set and its high watermark has been passed, until the
    /// queue drains to the low one; true otherwise.
    public var isWritable: Bool {
        checkThread()
        return life.isWritable
    }
}
