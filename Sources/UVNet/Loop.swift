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
public final class Loop: @unchecked Sendable {
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
    static let readBufferSize = 64 * 1024

    /// Size of the buffer UDP batches land in: libuv 1.44 reads `size / 64 KiB` datagrams (at most 20)
    /// per `recvmmsg`, so 20 slots of 64 KiB make every batch as large as libuv allows.
    static let datagramBufferSize = 20 * 64 * 1024

    let raw: UnsafeMutablePointer<uv_loop_t>
    let readBuffer: UnsafeMutableRawPointer
    /// Allocated when the first UDP socket on this loop receives.
    @exclusivity(unchecked)
    private var datagramStorage: UnsafeMutableRawPointer?
    /// Work from Swift concurrency and other threads; see `LoopExecutor.swift`.
    let jobs: JobQueue
    /// This loop as a task executor, for `Task(executorPreference:)`.
    public private(set) lazy var taskExecutor = LoopTaskExecutor(loop: self)
    /// The actor of this loop: isolate code to it to run it on the loop's thread.
    public private(set) lazy var actor = LoopActor(loop: self)
    private let ownerThread: pthread_t
    private var isClosed = false

    /// Creates a loop owned by the calling thread. The corresponding C function is `uv_loop_init`.
    public init() throws(UVError) {
        ignoreSIGPIPEOnce()
        raw = .allocate(capacity: 1)
        readBuffer = .allocate(byteCount: Loop.readBufferSize, alignment: 16)
        ownerThread = pthread_self()
        let rc = uv_loop_init(raw)
        guard rc == 0 else {
            raw.deallocate()
            readBuffer.deallocate()
            throw UVError(rc, operation: "create loop")
        }
        do {
            jobs = try JobQueue(loop: raw)
        } catch {
            uv_loop_close(raw)
            raw.deallocate()
            readBuffer.deallocate()
            throw error
        }
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        // Every open handle retains its loop, so none is left here; pending requests may be.
        if !isClosed, (try? closeNow()) == nil {
            return  // libuv still points into this memory: leaking it is the only safe choice.
        }
        raw.deallocate()
        readBuffer.deallocate()
        datagramStorage?.deallocate()
    }

    /// Runs the loop. Returns true when there is still work (after `stop()` or in `.once`/`.noWait` mode).
    /// The corresponding C function is `uv_run`.
    @discardableResult
    public func run(_ mode: RunMode = .untilIdle) -> Bool {
        assertOnLoopThread()
        let uvMode: uv_run_mode =
            switch mode {
            case .untilIdle: UV_RUN_DEFAULT
            case .once: UV_RUN_ONCE
            case .noWait: UV_RUN_NOWAIT
            }
        return uv_run(raw, uvMode) != 0
    }

    /// Makes `run` return at the end of the current iteration. The corresponding C function is `uv_stop`.
    public func stop() {
        assertOnLoopThread()
        uv_stop(raw)
    }

    /// The loop's idea of now, in milliseconds from an arbitrary point, cached at the start of each
    /// iteration. The corresponding C function is `uv_now`.
    public var now: UInt64 { uv_now(raw) }

    /// Refreshes `now` from the clock. The corresponding C function is `uv_update_time`.
    public func updateTime() { uv_update_time(raw) }

    /// The handles on this loop that are not closing or closed (not counting the loop's own).
    public var openHandleCount: Int {
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

    /// Closes every handle still open, runs the loop until their close callbacks and any pending requests
    /// are done, then closes the loop. Throws `.busy` if something is still pending (nothing is freed then).
    /// Calling it again after success does nothing. The corresponding C function is `uv_loop_close`.
    public func close() throws(UVError) {
        assertOnLoopThread()
        try closeNow()
    }

    private func closeNow() throws(UVError) {
        guard !isClosed else { return }
        // Work still queued runs first: a task may be waiting to finish a close of its own.
        jobs.drain(on: self)
        jobs.close()
        closeAllHandles()
        uv_run(raw, UV_RUN_DEFAULT)
        try uvCheck(uv_loop_close(raw), "close loop")
        isClosed = true
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

    /// Traps in debug builds when called off the loop's thread: a loop "is not thread-safe".
    @inline(__always)
    func assertOnLoopThread(_ function: StaticString = #function) {
        assert(isOnLoopThread, "\(function) called off its loop's thread")
    }

    /// True on the thread that owns this loop.
    public var isOnLoopThread: Bool {
        pthread_equal(ownerThread, pthread_self()) != 0
    }

    /// The loop's read buffer, found from a C loop pointer without retaining the loop.
    @inline(__always)
    static func readBuffer(of raw: UnsafeMutablePointer<uv_loop_t>) -> uv_buf_t {
        let base = Unmanaged<Loop>.fromOpaque(raw.pointee.data)._withUnsafeGuaranteedRef { $0.readBuffer }
        return uv_buf_t(base: base.assumingMemoryBound(to: CChar.self), len: readBufferSize)
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

/// libuv writes without MSG_NOSIGNAL on Linux: without this, a write to a dead peer kills the process.
private let sigpipeIgnored: Bool = {
    cuv_ignore_sigpipe()
    return true
}()

private func ignoreSIGPIPEOnce() {
    _ = sigpipeIgnored
}
