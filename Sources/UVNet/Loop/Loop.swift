// An event loop owned by one thread: every handle lives on one loop and is touched only on its thread.
import CUV
import Glibc

/// A libuv event loop.
///
/// A loop belongs to the thread that created it: create handles on it, run it, and close it there.
/// ```swift
/// let loop = try Loop()
/// defer { try? loop.close() }
/// let timer = try Timer(on: loop)
/// timer.start(after: .milliseconds(10)) { print("tick") }
/// loop.run()
/// ```
/// Every method of a loop and of its handles checks that it runs on the loop's thread, and traps with
/// a message naming both threads when it does not (release builds too). The doors in from other
/// threads are `execute(_:)` and the async API, which go to the loop's thread by themselves.
///
/// `close()` closes the loop for good: work posted to it is refused with `.loopClosed`, no new handle can be made on
/// it, and every task still waiting on it has been resumed with an error (and run, on the loop's thread, as far as it
/// goes without waiting for something else). A task still running after that goes on on the global executor, where the
/// loop's handles and `LoopBound` values are out of its reach; close a loop once the work on it is done.
public final class Loop: @unchecked Sendable {  // its mutable state is touched on the owner thread only: every member checks
    /// How far `run` goes before it returns.
    public enum RunMode: Sendable {
        /// Until no active, referenced handle or request is left (or `stop()`).
        case untilIdle
        /// Wait for events once, handle them, return.
        case once
        /// Handle what is ready now, without waiting.
        case noWait
    }

    /// Size of the buffer every read on this loop lands in. TCP reads are handed to their callback
    /// straight from here, so the steady state allocates nothing per read.
    @_spi(StreamLayers) public static let readBufferSize = 64 * 1024

    /// Size of the buffer UDP batches land in: libuv 1.44 reads `size / 64 KiB` datagrams (at most 20)
    /// per `recvmmsg`, so 20 slots of 64 KiB make every batch as large as libuv allows.
    static let datagramBufferSize = 20 * 64 * 1024

    /// How many rounds of closing handles and running the work that causes `close()` goes through
    /// before it stops waiting for that work to settle (a task that never stops yielding).
    static let closingRounds = 100

    let raw: UnsafeMutablePointer<uv_loop_t>
    /// Where every read on this loop lands. A layer over a stream (TLS) may also use it as scratch
    /// space once a read callback has copied its bytes out: nothing else touches it until the next read.
    @_spi(StreamLayers) public let readBuffer: UnsafeMutableRawPointer
    let owner: ThreadIdentity
    /// Allocated when the first UDP socket on this loop receives.
    @exclusivity(unchecked)
    private var datagramStorage: UnsafeMutableRawPointer?
    /// Allocated when a layer first asks for `stagingBuffer`.
    @exclusivity(unchecked)
    private var stagingStorage: UnsafeMutableRawPointer?
    /// Work from Swift concurrency and other threads; see `LoopExecutor.swift`.
    let jobs: JobQueue
    /// Tasks suspended on this loop, failed by `close()` if still waiting.
    @exclusivity(unchecked)
    var pendingWaits = PendingWaits()
    /// Resolutions handed to libuv's thread pool, canceled by `close()` if still queued.
    var resolutions = ResolutionsInFlight()
    /// This loop as a task executor, for `Task(executorPreference:)`.
    public let taskExecutor: LoopTaskExecutor
    /// False once `close()` has begun: no new handle (or request) may be made on the loop.
    private(set) var acceptsHandles = true
    /// False once `close()` has failed the waits for good: a new wait fails at once.
    private(set) var acceptsWaits = true
    /// True inside `run`: the loop cannot be run again, or closed, from one of its own callbacks.
    var isRunning = false
    private var isClosed = false

    /// Creates a loop owned by the calling thread. The corresponding C function is `uv_loop_init`.
    @available(*, noasync, message: "a loop belongs to the thread that creates it; make it where it will run")
    public init() throws(UVError) {
        _ = sigpipeIgnored  // the first loop of the process ignores SIGPIPE; the rest find it done
        owner = ThreadIdentity()
        raw = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Loop.readBufferSize, alignment: 16)
        do {
            try uvCheck(uv_loop_init(raw), "create loop")
        } catch {
            raw.deallocate()
            readBuffer.deallocate()
            throw error
        }
        do {
            jobs = try JobQueue(loop: raw, owner: owner)
        } catch {
            uv_loop_close(raw)
            raw.deallocate()
            readBuffer.deallocate()
            throw error
        }
        taskExecutor = LoopTaskExecutor(jobs: jobs)
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        jobs.serialExecutor = UnownedSerialExecutor(ordinary: self)
        jobs.taskExecutor = taskExecutor.asUnownedTaskExecutor()
    }

    deinit {
        // Every open handle retains its loop, so none is left here; pending requests may be. Closing
        // runs the loop, which only its own thread may do: elsewhere the loop's memory is left as it is.
        if !isClosed, !owner.isCurrent || (try? closeNow()) == nil {
            return  // libuv may still point into this memory: leaking it is the only safe choice.
        }
        raw.deallocate()
        readBuffer.deallocate()
        datagramStorage?.deallocate()
        stagingStorage?.deallocate()
    }

    /// Runs the loop. Returns true when there is still work (after `stop()` or in `.once`/`.noWait` mode).
    /// The corresponding C function is `uv_run`.
    @available(*, noasync, message: "run blocks its thread; in async code await the loop's I/O instead")
    @discardableResult
    public func run(_ mode: RunMode = .untilIdle) -> Bool {
        checkOnLoopThread("Loop.run(_:)")
        guard !isClosed else { return false }
        refuseReentry("Loop.run(_:)")
        isRunning = true
        defer { isRunning = false }
        let uvMode: uv_run_mode =
            switch mode {
            case .untilIdle: UV_RUN_DEFAULT
            case .once: UV_RUN_ONCE
            case .noWait: UV_RUN_NOWAIT
            }
        return uv_run(raw, uvMode) != 0
    }

    /// Makes `run(_:)` return at the end of the current iteration (`run { … }` goes on until its body
    /// returns). The corresponding C function is `uv_stop`.
    public func stop() {
        checkOnLoopThread("Loop.stop()")
        uv_stop(raw)
    }

    /// The loop's idea of now, in milliseconds from an arbitrary point, cached at the start of each
    /// iteration. The corresponding C function is `uv_now`.
    public var now: UInt64 {
        checkOnLoopThread("Loop.now")
        return uv_now(raw)
    }

    /// Refreshes `now` from the clock. The corresponding C function is `uv_update_time`.
    public func updateTime() {
        checkOnLoopThread("Loop.updateTime()")
        uv_update_time(raw)
    }

    /// The handles on this loop that are not closing or closed (not counting the loop's own).
    public var openHandleCount: Int {
        checkOnLoopThread("Loop.openHandleCount")
        var count = 0
        uv_walk(
            raw,
            { handle, context in
                if uv_is_closing(handle) == 0, handle!.pointee.data != nil {
                    context!.assumingMemoryBound(to: Int.self).pointee += 1
                }
            }, &count)
        return count
    }

    /// Closes the loop for good: closes every handle still open, lets their callbacks and the tasks they resume run,
    /// fails every task still waiting on the loop with `.loopClosed`, refuses work from then on, and closes the libuv
    /// loop. Throws `.busy` if a request is still pending then (call it again later). Calling it after success does
    /// nothing. The corresponding C function is `uv_loop_close`.
    @available(*, noasync, message: "close runs the loop until its handles are closed; await each handle's close() instead")
    public func close() throws(UVError) {
        checkOnLoopThread("Loop.close()")
        // Inside run (a callback, a task on the loop), or inside close's own rounds.
        guard !isRunning else {
            throw UVError(UV_EBUSY.rawValue, operation: "close loop", detail: "the loop is running; close it after run returns")
        }
        try closeNow()
    }

    /// Traps when `caller` would run the loop from inside its own run: libuv forbids `uv_run` there.
    func refuseReentry(_ caller: String) {
        if isRunning {
            fatalError("UVNet: \(caller) called from inside the loop's own run (a callback or a task on the loop)")
        }
    }

    private func closeNow() throws(UVError) {
        guard !isClosed else { return }
        acceptsHandles = false
        jobs.stopKeepingAlive()
        resolutions.cancelAll()
        // One iteration at a time (work waiting to run keeps each from blocking), so that a task that
        // never stops yielding cannot hold close() up for ever: after `closingRounds`, the queue closes.
        // The tasks that closing resumes run here, on the loop's thread, while the queue still takes
        // work: their cleanup (a `defer`, an `await close()`) finds itself where it belongs.
        isRunning = true
        var round = 0
        var alive = true
        while (alive || jobs.hasWork) && round < Loop.closingRounds {
            closeAllHandles()
            alive = uv_run(raw, UV_RUN_ONCE) != 0
            // Waits no handle will end (a sleep whose timer was closed, say) end here: after the handles' closing has
            // run, so that libuv has let go of a `write(borrowing:)`'s memory before its wait ends.
            failPendingWaits()
            jobs.drain(takingRemote: true)
            round += 1
        }
        acceptsWaits = false
        failPendingWaits()
        jobs.close()
        closeAllHandles()
        uv_run(raw, UV_RUN_DEFAULT)
        isRunning = false
        try uvCheck(uv_loop_close(raw), "close loop")
        isClosed = true
    }

    private func failPendingWaits() {
        for wait in pendingWaits.takeAll() { wait.fail(UVError.loopClosed) }
    }

    /// Starts closing every handle that is open (not the loop's own).
    func closeAllHandles() {
        uv_walk(
            raw,
            { handle, _ in
                guard let handle, uv_is_closing(handle) == 0, let data = handle.pointee.data else { return }
                Unmanaged<Handle>.fromOpaque(data).takeUnretainedValue().close()
            }, nil)
    }

    /// Traps unless called on the loop's thread, naming `caller` and both threads: the check behind
    /// every handle method. Costs a load and a compare (`cuv_current_thread` reads the thread pointer).
    @inline(__always)
    @_spi(StreamLayers) public func checkOnLoopThread(_ caller: @autoclosure () -> String) {
        if _slowPath(!owner.isCurrent) { offLoopThread(caller(), owner: owner) }
    }

    /// True on the thread that owns this loop.
    public var isOnLoopThread: Bool {
        owner.isCurrent
    }

    /// The loop's read buffer, found from a C loop pointer without retaining the loop.
    @inline(__always)
    static func readBuffer(of raw: UnsafeMutablePointer<uv_loop_t>) -> uv_buf_t {
        let base = Unmanaged<Loop>.fromOpaque(raw.pointee.data)._withUnsafeGuaranteedRef { $0.readBuffer }
        return uv_buf_t(base: base.assumingMemoryBound(to: CChar.self), len: readBufferSize)
    }

    /// Size of `stagingBuffer`.
    @_spi(StreamLayers) public static let stagingBufferSize = 64 * 1024

    /// Where a layer stages bytes for a stream's `write` (TLS drains its ciphertext here), on the loop's thread only.
    /// Free again once that `write` returns: a stream copies what the kernel leaves. Allocated on first use.
    @_spi(StreamLayers) public var stagingBuffer: UnsafeMutableRawBufferPointer {
        checkOnLoopThread("Loop.stagingBuffer")
        if stagingStorage == nil { stagingStorage = .allocate(byteCount: Loop.stagingBufferSize, alignment: 16) }
        return UnsafeMutableRawBufferPointer(start: stagingStorage, count: Loop.stagingBufferSize)
    }

    /// The loop's UDP batch buffer, found from a C loop pointer without retaining the loop.
    @inline(__always)
    static func datagramBuffer(of raw: UnsafeMutablePointer<uv_loop_t>) -> uv_buf_t {
        let base = Unmanaged<Loop>.fromOpaque(raw.pointee.data)._withUnsafeGuaranteedRef { loop in
            if let storage = loop.datagramStorage { return storage }
            let storage = UnsafeMutableRawPointer.allocate(byteCount: datagramBufferSize, alignment: 16)
            loop.datagramStorage = storage
            return storage
        }
        return uv_buf_t(base: base.assumingMemoryBound(to: CChar.self), len: datagramBufferSize)
    }

    /// The Swift loop behind a C loop pointer.
    @inline(__always)
    static func from(_ raw: UnsafeMutablePointer<uv_loop_t>) -> Loop {
        Unmanaged<Loop>.fromOpaque(raw.pointee.data).takeUnretainedValue()
    }
}

extension UVError {
    /// The loop is closed (or its group shut down): it takes no more work, handles or waiters.
    /// The corresponding libuv error is `UV_ESHUTDOWN`, which libuv itself uses for sockets only.
    public static var loopClosed: UVError {
        UVError(UV_ESHUTDOWN.rawValue, operation: nil, detail: "the loop is closed")
    }
}

/// libuv writes without MSG_NOSIGNAL on Linux: without this, a write to a dead peer kills the process.
private let sigpipeIgnored: Bool = {
    cuv_ignore_sigpipe()
    return true
}()
