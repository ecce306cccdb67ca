// N loops on N threads: a server that uses every core, one loop per thread, handed out round robin.
import CUV
import Synchronization

/// A group of loops, each running on a thread of its own until `shutdown()`.
///
/// ```swift
/// let group = try LoopGroup()                         // one loop per core
/// let address = try group.listen(on: SocketAddress(ip: "127.0.0.1", port: 9000)) { listener in
///     listener.accept { result in … }                 // runs on each loop's thread
/// }
/// …
/// group.shutdown()
/// ```
/// Do not call the blocking methods (`init`, `listen`, `shutdown`) from one of the group's own threads.
public final class LoopGroup: Sendable {
    /// The loops, one per thread.
    public let loops: [Loop]
    private let threads: Locked<[uv_thread_t]>
    private let nextIndex = Atomic<Int>(0)

    /// Starts `loopCount` threads, each running a loop. The corresponding C function is `uv_thread_create`.
    public init(loopCount: Int = LoopGroup.coreCount) throws(UVError) {
        var loops: [Loop] = []
        var threads: [uv_thread_t] = []
        for _ in 0..<max(1, loopCount) {
            let start = ThreadStart()
            let box = Unmanaged.passRetained(start).toOpaque()
            var thread = uv_thread_t()
            let rc = uv_thread_create(&thread, { LoopGroup.threadMain($0) }, box)
            guard rc == 0 else {
                Unmanaged<ThreadStart>.fromOpaque(box).release()
                LoopGroup.stop(loops, threads)
                throw UVError(rc, operation: "start loop thread")
            }
            threads.append(thread)
            start.ready.wait()
            guard let loop = start.loop else {
                LoopGroup.stop(loops, threads)
                throw start.error ?? UVError.outOfMemory.during("start loop thread")
            }
            loops.append(loop)
        }
        self.loops = loops
        self.threads = Locked(threads)
    }

    /// The number of CPUs this process may use. The corresponding C function is `uv_available_parallelism`
    /// where libuv has it, else `uv_cpu_info`.
    public static var coreCount: Int {
        var cpus: UnsafeMutablePointer<uv_cpu_info_t>?
        var count: CInt = 0
        guard uv_cpu_info(&cpus, &count) == 0 else { return 1 }
        uv_free_cpu_info(cpus, count)
        return max(1, Int(count))
    }

    /// The next loop, round robin.
    public func next() -> Loop {
        loops[nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Binds a listener to `address` on every loop, sharing one port through `SO_REUSEPORT` so the kernel
    /// spreads connections over the loops, and calls `setUp` with each listener on its loop's thread.
    /// Returns the bound address (the real port when `address` has port 0).
    public func listen(
        on address: SocketAddress, options: TCPListener.Options = [], backlog: Int = 511,
        _ setUp: @escaping @Sendable (TCPListener) -> Void
    ) throws(UVError) -> SocketAddress {
        var bound = address
        for loop in loops {
            let port = bound
            bound = try onLoop(loop) { () throws(UVError) -> SocketAddress in
                let listener = try TCPListener(
                    on: loop, address: port, options: options.union(.reusePort), backlog: backlog)
                setUp(listener)
                return try listener.localAddress
            }
        }
        return bound
    }

    /// Runs `body` on `loop`'s thread and waits for its result.
    private func onLoop<Value: Sendable>(
        _ loop: Loop, _ body: @escaping @Sendable () throws(UVError) -> Value
    ) throws(UVError) -> Value {
        let done = Rendezvous<Result<Value, UVError>>()
        loop.execute { done.deliver(Result(catching: body)) }
        return try done.wait().get()
    }

    /// Lets every loop end once its handles are closed (the caller closes them: stop listening, finish
    /// connections), then waits for the threads. Idempotent.
    public func shutdownGracefully() {
        for loop in loops { loop.execute { loop.jobs.keepAlive(false) } }
        join()
    }

    /// Closes every handle on every loop at once (pending writes are canceled), then waits for the
    /// threads. Idempotent.
    public func shutdown() {
        for loop in loops {
            loop.execute {
                loop.jobs.keepAlive(false)
                loop.closeAllHandles()
            }
        }
        join()
    }

    private func join() {
        let threads = threads.withLock { threads in
            defer { threads.removeAll() }
            return threads
        }
        for var thread in threads { uv_thread_join(&thread) }
    }

    private static func stop(_ loops: [Loop], _ threads: [uv_thread_t]) {
        for loop in loops { loop.execute { loop.jobs.keepAlive(false) } }
        for var thread in threads { uv_thread_join(&thread) }
    }

    /// A loop thread: make the loop (so it belongs to this thread), run it until shutdown, close it.
    private static func threadMain(_ argument: UnsafeMutableRawPointer?) {
        let start = Unmanaged<ThreadStart>.fromOpaque(argument!).takeRetainedValue()
        let loop: Loop
        do {
            loop = try Loop()
        } catch {
            start.error = error
            start.ready.signal()
            return
        }
        loop.jobs.keepAlive(true)
        start.loop = loop
        start.ready.signal()
        loop.run()
        try? loop.close()
    }
}

/// What a new loop thread hands back to `LoopGroup.init`.
private final class ThreadStart: @unchecked Sendable {
    let ready = Semaphore()
    var loop: Loop?
    var error: UVError?
}

/// One value handed from a loop's thread to a thread waiting for it.
final class Rendezvous<Value: Sendable>: @unchecked Sendable {
    private let delivered = Semaphore()
    private var value: Value?

    func deliver(_ value: Value) {
        self.value = value
        delivered.signal()
    }

    func wait() -> Value {
        delivered.wait()
        return value!
    }
}

/// A libuv semaphore on the heap, where it cannot move.
final class Semaphore: @unchecked Sendable {
    private let raw = UnsafeMutablePointer<uv_sem_t>.allocate(capacity: 1)

    init() { uv_sem_init(raw, 0) }

    deinit {
        uv_sem_destroy(raw)
        raw.deallocate()
    }

    /// The corresponding C function is `uv_sem_post`.
    func signal() { uv_sem_post(raw) }
    /// The corresponding C function is `uv_sem_wait`.
    func wait() { uv_sem_wait(raw) }
}
