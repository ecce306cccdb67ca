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
/// The blocking forms (`init`, `listen`, `shutdown`) are for other threads; async code awaits the async forms, which
/// block none. After `shutdown()` every loop of the group is closed: `listen` and `execute` throw `.loopClosed`.
public final class LoopGroup: Sendable {
    /// The loops, one per thread.
    public let loops: [Loop]
    private let threads: Locked<[LoopThread]>
    private let nextIndex = Atomic<Int>(0)

    /// Starts `loopCount` threads, each running a loop. The corresponding C function is `uv_thread_create`.
    @available(*, noasync, message: "blocks until the loops run; use the async init in async code")
    public init(loopCount: Int = LoopGroup.coreCount) throws(UVError) {
        let started = try LoopGroup.startThreads(max(1, loopCount))
        do {
            loops = try started.map { thread throws(UVError) in try thread.loop.wait().get() }
        } catch {
            LoopGroup.stop(started)
            throw error
        }
        threads = Locked(started)
    }

    /// Starts `loopCount` threads, each running a loop, without blocking the caller's thread.
    public init(loopCount: Int = LoopGroup.coreCount) async throws(UVError) {
        let started = try LoopGroup.startThreads(max(1, loopCount))
        var loops: [Loop] = []
        for thread in started {
            switch await thread.loop.value() {
            case .success(let loop): loops.append(loop)
            case .failure(let error):
                LoopGroup.stop(started)
                throw error
            }
        }
        self.loops = loops
        threads = Locked(started)
    }

    /// The number of CPUs this process may use: its CPU affinity and cgroup limits respected.
    /// The corresponding C function is `uv_available_parallelism`.
    public static var coreCount: Int {
        max(1, Int(uv_available_parallelism()))
    }

    /// The next loop, round robin.
    public func next() -> Loop {
        loops[nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Binds a listener to `address` on every loop, sharing one port through `SO_REUSEPORT` so the kernel
    /// spreads connections over the loops, and calls `setUp` with each listener on its loop's thread.
    /// Returns the bound address (the real port when `address` has port 0). All or nothing: when one
    /// loop cannot bind, the listeners bound on the others are closed before the error is thrown.
    @available(*, noasync, message: "blocks until every loop has bound; use the async form in async code")
    public func listen(
        on address: SocketAddress, options: TCPListener.Options = [], backlog: Int = 511,
        _ setUp: @escaping @Sendable (TCPListener) -> Void
    ) throws(UVError) -> SocketAddress {
        refuseOwnThread("LoopGroup.listen(on:options:backlog:_:)")
        var bound: [TCPListener] = []
        var port = address
        for loop in loops {
            let listener: Bound
            let asked = port
            do {
                listener = try onLoop(loop) { () throws(UVError) in try Self.bind(asked, options, backlog, on: loop) }.wait().get()
            } catch {
                for listener in bound { _ = try? onLoop(listener.loop) { listener.close() }.wait() }
                throw error
            }
            bound.append(listener.value)
            port = listener.address
        }
        for listener in bound { _ = try? onLoop(listener.loop) { setUp(listener) }.wait() }
        return port
    }

    /// Binds a listener on every loop (see the blocking form), awaiting the loops without blocking.
    public func listen(
        on address: SocketAddress, options: TCPListener.Options = [], backlog: Int = 511,
        _ setUp: @escaping @Sendable (TCPListener) -> Void
    ) async throws(UVError) -> SocketAddress {
        var bound: [TCPListener] = []
        var port = address
        for loop in loops {
            let handoff: Handoff<Result<Bound, UVError>>
            let asked = port
            do {
                handoff = try onLoop(loop) { () throws(UVError) in try Self.bind(asked, options, backlog, on: loop) }
            } catch {
                await Self.close(bound)
                throw error
            }
            switch await handoff.value() {
            case .success(let listener):
                bound.append(listener.value)
                port = listener.address
            case .failure(let error):
                await Self.close(bound)
                throw error
            }
        }
        for listener in bound { _ = try? await onLoop(listener.loop) { setUp(listener) }.value() }
        return port
    }

    /// A listener just bound, with the address it got.
    private struct Bound: Sendable {
        let value: TCPListener
        let address: SocketAddress
    }

    private static func bind(
        _ address: SocketAddress, _ options: TCPListener.Options, _ backlog: Int, on loop: Loop
    ) throws(UVError) -> Bound {
        let listener = try TCPListener(on: loop, address: address, options: options.union(.reusePort), backlog: backlog)
        do {
            return Bound(value: listener, address: try listener.localAddress)
        } catch {
            listener.close()
            throw error
        }
    }

    private static func close(_ listeners: [TCPListener]) async {
        for listener in listeners { await listener.close() }
    }

    /// Runs `body` on `loop`'s thread (result via the handoff); throws `.loopClosed` once the group is shut down.
    private func onLoop<Value: Sendable>(
        _ loop: Loop, _ body: @escaping @Sendable () throws(UVError) -> Value
    ) throws(UVError) -> Handoff<Result<Value, UVError>> {
        let handoff = Handoff<Result<Value, UVError>>()
        try loop.execute { handoff.deliver(Result(catching: body)) }
        return handoff
    }

    /// Lets every loop end once its handles are closed (the caller closes them: stop listening, finish
    /// connections), then waits for the threads. Idempotent.
    @available(*, noasync, message: "blocks until the loops end; use the async form in async code")
    public func shutdownGracefully() {
        refuseOwnThread("LoopGroup.shutdownGracefully()")
        for thread in beginShutdown(closing: false) { thread.join() }
    }

    /// Lets every loop end once its handles are closed (see the blocking form), awaiting the threads.
    public func shutdownGracefully() async {
        for thread in beginShutdown(closing: false) { await thread.finish() }
    }

    /// Closes every loop's handles at once (pending writes are canceled), then waits for the threads. Idempotent.
    @available(*, noasync, message: "blocks until the loops end; use the async form in async code")
    public func shutdown() {
        refuseOwnThread("LoopGroup.shutdown()")
        for thread in beginShutdown(closing: true) { thread.join() }
    }

    /// Closes every handle on every loop at once (see the blocking form), awaiting the threads.
    public func shutdown() async {
        for thread in beginShutdown(closing: true) { await thread.finish() }
    }

    /// Traps when a blocking call comes from one of the group's own threads: it would wait for itself.
    private func refuseOwnThread(_ caller: String) {
        if loops.contains(where: \.isOnLoopThread) {
            fatalError("UVNet: \(caller) called on one of the group's own loop threads, which it would wait for")
        }
    }

    /// Tells each loop to end (after closing its handles, with `closing`); returns the threads to wait for.
    private func beginShutdown(closing: Bool) -> [LoopThread] {
        let threads = threads.withLock { threads in
            defer { threads.removeAll() }
            return threads
        }
        for loop in loops {
            try? loop.execute {
                loop.jobs.keepAlive(false)
                if closing { loop.closeAllHandles() }
            }
        }
        return threads
    }

    private static func startThreads(_ count: Int) throws(UVError) -> [LoopThread] {
        var started: [LoopThread] = []
        for _ in 0..<count {
            do {
                started.append(try LoopThread())
            } catch {
                stop(started)
                throw error
            }
        }
        return started
    }

    /// Lets the loops of `threads` that started end, and waits for every thread.
    private static func stop(_ threads: [LoopThread]) {
        for thread in threads {
            if case .success(let loop) = thread.loop.wait() { try? loop.execute { loop.jobs.keepAlive(false) } }
            thread.join()
        }
    }
}

/// A thread that makes a loop (so the loop belongs to it), runs it until told to stop, then closes it.
private final class LoopThread: Sendable {
    /// The loop, once the thread has made it (or why it could not).
    let loop = Handoff<Result<Loop, UVError>>()
    /// Delivered when the thread is about to end.
    private let ended = Handoff<Void>()
    private let thread: Locked<uv_thread_t?>

    init() throws(UVError) {
        thread = Locked(nil)
        let box = Unmanaged.passRetained(self).toOpaque()
        var created = uv_thread_t()
        do {
            try uvCheck(uv_thread_create(&created, { LoopThread.main($0) }, box), "start loop thread")
        } catch {
            Unmanaged<LoopThread>.fromOpaque(box).release()
            throw error
        }
        thread.withLock { $0 = created }
    }

    private static func main(_ argument: UnsafeMutableRawPointer?) {
        let this = Unmanaged<LoopThread>.fromOpaque(argument!).takeRetainedValue()
        defer { this.ended.deliver(()) }
        let loop: Loop
        do {
            loop = try Loop()
        } catch {
            return this.loop.deliver(.failure(error))
        }
        loop.jobs.keepAlive(true)
        this.loop.deliver(.success(loop))
        loop.run()
        try? loop.close()
    }

    /// Waits for the thread to end, blocking. The corresponding C function is `uv_thread_join`.
    func join() {
        guard var joined = thread.withLock({ $0 }) else { return }
        uvRequire(uv_thread_join(&joined), "uv_thread_join")
    }

    /// Waits for the thread to end without blocking, then joins it (at once: it has ended).
    func finish() async {
        await ended.value()
        join()
    }
}
