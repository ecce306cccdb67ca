// A byte stream's life as one explicit state machine, kept by every kind of stream: who reads and how each direction
// ended, the writability handler, and what inbound() reads into; each stream adds only how its bytes move.

/// Where a byte stream is in its life, changed only through these methods:
///
///     reading:  idle ─ start ─▶ active ⇄ paused ─ the peer's end, an error, endReading ─▶ ended
///     writing:  open ─ shutdown ─▶ shutting down (later asks join) ─ done ─▶ ended (later asks hear it)
///     close:    both directions end at once; what waited is failed
///
/// Each direction ends once. A method that ends something says who must hear of it (the reader, the
/// shutdown's waiters) instead of calling them, so the stream calls them once its state has changed:
/// a handler that re-enters the stream finds it as it now is. (No method calls a handler.)
@_spi(StreamLayers) public struct StreamLife<Failure: Error> {
    /// What a shutdown's caller hears.
    public typealias Completion = (Result<Void, Failure>) -> Void

    /// The reading direction. (The stream keeps the reader itself: see `StreamCore.reader` for why.)
    public enum Reading {
        case idle, active
        /// Stopped by `stopReading`: the reader is kept, for a later start or for the end.
        case paused
        /// Told once; a later start hears it at once.
        case ended
    }

    /// The writing direction: this side's half-close.
    public enum Writing {
        case open
        case shuttingDown([Completion])
        case ended(Result<Void, Failure>)
    }

    /// What a shutdown asked for now has to do.
    public enum ShutdownStep {
        /// Start it: this is the first ask.
        case start
        /// Nothing: the ask joined the one under way.
        case joined
        /// Tell the ask this result: the half-close is over.
        case ended(Result<Void, Failure>)

        /// Whether the shutdown is to start now; an ask after it ended hears its result here.
        public func startsNow(telling completion: Completion?) -> Bool {
            switch self {
            case .start: return true
            case .joined: return false
            case .ended(let result):
                completion?(result)
                return false
            }
        }
    }

    public private(set) var reading = Reading.idle
    /// How reading ended, once it has.
    public private(set) var readingEnd: Failure?
    public private(set) var writing = Writing.open
    /// Whether the stream has begun closing: both directions are over for good.
    public private(set) var isClosed = false
    private var writability: Writability?
    private var inbound: InboundBuffer?

    public init() {}

    // MARK: Reading

    /// A reader asks to start: nil when it may (reading is active now), else the end to tell it at
    /// once (`closed` on a closing stream, or how reading ended).
    public mutating func startReading(closed: @autoclosure () -> Failure) -> Failure? {
        if isClosed { return closed() }
        if let readingEnd { return readingEnd }
        reading = .active
        return nil
    }

    /// The stream refused the start just made: back to idle, no end recorded, so a later start may try again.
    public mutating func startFailed() {
        if reading == .active { reading = .idle }
    }

    /// Pauses reading; false if it was not active.
    public mutating func pauseReading() -> Bool {
        guard reading == .active else { return false }
        reading = .paused
        return true
    }

    /// Ends reading with `end` (`.eof` for a clean end); true when there is a reader to tell, once.
    public mutating func endReading(_ end: Failure) -> Bool {
        guard readingEnd == nil else { return false }
        let hadReader = reading == .active || reading == .paused
        reading = .ended
        readingEnd = end
        return hadReader
    }

    // MARK: Writing

    /// Whether this side may still write: no shutdown asked for. (Inlinable: TLS asks on every write.)
    @inlinable public var canWrite: Bool {
        if case .open = writing { return true }
        return false
    }

    /// A half-close asked for with `completion`: start it, join the one under way, or hear its result.
    public mutating func shutdown(_ completion: Completion?) -> ShutdownStep {
        switch writing {
        case .open:
            writing = .shuttingDown([completion].compactMap { $0 })
            return .start
        case .shuttingDown(let waiting):
            writing = .shuttingDown(waiting + [completion].compactMap { $0 })
            return .joined
        case .ended(let result):
            return .ended(result)
        }
    }

    /// The half-close is over (or could not start): returns who waited for it, to be told `result`.
    public mutating func shutdownEnded(_ result: Result<Void, Failure>) -> [Completion] {
        guard case .shuttingDown(let waiting) = writing else { return [] }
        writing = .ended(result)
        return waiting
    }

    // MARK: Writability

    /// Sets (or, with nil, removes) the writability handler, judged from `queued` bytes now.
    public mutating func onWritabilityChange(watermarks: WriteWatermarks, _ handler: ((Bool) -> Void)?, queued: Int) {
        writability = handler.map { Writability(watermarks: watermarks, handler: $0, isWritable: queued <= watermarks.high) }
    }

    /// False while the queue is past the high watermark of the writability handler, until it drains to the low one.
    public var isWritable: Bool { writability?.isWritable ?? true }

    /// The write queue changed: returns the handler and its new word when the queue crossed a watermark.
    @inline(__always)
    public mutating func writeQueueChanged(to queued: () -> Int) -> (handler: (Bool) -> Void, isWritable: Bool)? {
        guard let state = writability else { return nil }
        let size = queued()
        if state.isWritable, size > state.watermarks.high {
            writability?.isWritable = false
        } else if !state.isWritable, size <= state.watermarks.low {
            writability?.isWritable = true
        } else {
            return nil
        }
        return (state.handler, !state.isWritable)
    }

    // MARK: Closing

    /// The stream begins closing: reading is over for good, `inbound()` ends after what it holds (its waiting consumer
    /// is resumed, in a later job), and the reader (the stream drops it) and the writability handler are let go: the
    /// owner closed it, so they are not told. A shutdown under way is the stream's to end (`shutdownEnded`), canceled.
    public mutating func close() {
        guard !isClosed else { return }
        isClosed = true
        inbound?.streamClosed()
        writability = nil
        if reading != .ended { reading = .idle }
    }

    /// What `inbound()` reads into: made on first use, ended already on a closed stream.
    public mutating func inboundBuffer() -> InboundBuffer {
        if let inbound { return inbound }
        let made = InboundBuffer()
        if isClosed { made.streamClosed() }
        inbound = made
        return made
    }
}

/// A writability handler, and whether its last word was "writable".
struct Writability {
    let watermarks: WriteWatermarks
    let handler: (Bool) -> Void
    var isWritable = true
}
