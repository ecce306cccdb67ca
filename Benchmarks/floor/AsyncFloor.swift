// AsyncFloor: what Swift concurrency's runtime alone costs for one "await an I/O event on an event loop"
// round, with no UVNet and no libuv in it, so we know how low an async echo server can go. A hand-written
// executor queues jobs on the main thread; a plain driver loop stands in for the event loop: it runs the
// queued jobs, then "fires an I/O callback" that resumes the one parked continuation, as a libuv read
// callback would. Benchmarks/async-floor runs it under callgrind and prints instructions per round.
//
// Usage: AsyncFloor KIND[STEP] [ROUNDS]   (ROUNDS defaults to 20000). KIND: sync, no task, a C-style callback
// call per round (the baseline); preference, a nonisolated task made with Task(executorPreference:), as UVNet
// runs tasks; actor, the loop in a function `isolated` to an actor on the loop's executor, no preference;
// actor-pref, the same in a task that prefers the loop, its jobs run as UVNet runs them; actor-iso, the same
// but the loop runs task jobs isolated to its serial executor too. STEP: none, one withUnsafeContinuation a
// round; -cancel, inside withTaskCancellationHandler; -cancel-bare, the same with a bare closure, as UVNet's
// suspend has it; -nested, through two nonisolated async calls (like iterator.next() -> suspend()).
import Glibc
import Synchronization

/// The event loop: its job queue, the one pending "read" and the serial executor of actors on it. It runs
/// on the main thread; only `post` is called elsewhere (by a task the global executor resumed).
final class EventLoop: SerialExecutor, @unchecked Sendable {  // used on the main thread only, but for `post`, which checks the thread and locks the inbox otherwise
    enum Job { case actor(UnownedJob), task(UnownedJob) }
    // Unchecked, as in UVNet's JobQueue: dynamic exclusivity checks would be counted as runtime cost.
    @exclusivity(unchecked) var queue: [Job] = []
    @exclusivity(unchecked) private var running: [Job] = []  // kept for its capacity: a turn allocates nothing
    @exclusivity(unchecked) var pending: UnsafeContinuation<Void, Never>?
    /// Called through a pointer, as libuv calls a read callback: resumes `pending` (or counts, for sync).
    @exclusivity(unchecked) var callback: @convention(c) (UnsafeMutableRawPointer?) -> Void = resumePending
    @exclusivity(unchecked) var completed = 0
    @exclusivity(unchecked) var taskExecutor: UnownedTaskExecutor?
    @exclusivity(unchecked) var isolateTaskJobs = false
    let owner = pthread_self()
    /// Jobs from other threads, and the driver's wake-up for them (the `actor` kind only).
    let inbox = Mutex<[Job]>([])
    let wakeup = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init() { sem_init(wakeup, 0, 0) }

    func post(_ job: Job) {
        if pthread_equal(pthread_self(), owner) != 0 { return queue.append(job) }
        inbox.withLock { $0.append(job) }
        sem_post(wakeup)
    }
    func enqueue(_ job: consuming ExecutorJob) { post(.actor(UnownedJob(job))) }
    /// For `assumeIsolated`, used once to start the `actor` kind's task on the actor from here.
    func checkIsolated() { precondition(pthread_equal(pthread_self(), owner) != 0, "not on the loop's thread") }
    /// Runs jobs until none is queued, those the jobs queue included (as a drain after I/O would).
    func runJobs() {
        while !queue.isEmpty {
            swap(&queue, &running)
            var index = 0  // by index: a for-in would retain the array, once a turn
            while index < running.count {
                defer { index += 1 }
                switch running[index] {
                case .actor(let job): job.runSynchronously(on: asUnownedSerialExecutor())
                // UVNet's way: not isolated to the serial executor, so nonisolated code has no executor to leave.
                case .task(let job) where !isolateTaskJobs: job.runSynchronously(on: taskExecutor!)
                // Isolated to it as well (actor-iso): a task resumed here is already on the loop's actors.
                case .task(let job):
                    job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: taskExecutor!)
                }
            }
            running.removeAll(keepingCapacity: true)
        }
    }
    /// Blocks until another thread posts work (as a loop blocks in epoll when it has nothing to do).
    func waitForRemote() {
        sem_wait(wakeup)
        inbox.withLock { queue.append(contentsOf: $0); $0.removeAll(keepingCapacity: true) }
    }
}

/// The loop as a task executor, a type of its own as in UVNet: the runtime calls the same `enqueue` for
/// both kinds, and the loop must know which way to run a job.
final class LoopTaskExecutor: TaskExecutor {
    let loop: EventLoop
    init(_ loop: EventLoop) { self.loop = loop }
    func enqueue(_ job: consuming ExecutorJob) { loop.post(.task(UnownedJob(job))) }
}

/// An actor that lives on the loop, as UVNet's LoopActor does.
actor LoopActor {
    nonisolated let loop: EventLoop
    init(_ loop: EventLoop) { self.loop = loop }
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
}

/// The read callback: libuv passes the handle, whose `data` leads back to the Swift object (borrowed, not
/// retained: the harness should cost as little as it can).
func resumePending(_ context: UnsafeMutableRawPointer?) {
    Unmanaged<EventLoop>.fromOpaque(context!)._withUnsafeGuaranteedRef { loop in
        let continuation = loop.pending!
        loop.pending = nil
        continuation.resume()
    }
}

/// Not inlined, so the callback is called through its pointer, not folded into the driver loop.
@inline(never) func fire(_ loop: EventLoop) { loop.callback(Unmanaged.passUnretained(loop).toOpaque()) }

/// The event loop's turns: run what is queued, then deliver the "I/O" the task waits for; with neither,
/// wait for work from other threads, until the task is done.
func drive(_ loop: EventLoop) {
    while true {
        loop.runJobs()
        if loop.pending != nil { fire(loop) } else if loop.completed == 0 { loop.waitForRemote() } else { return }
    }
}

/// Awaiting a read: parks the task's continuation where the callback will find it.
@inline(__always) func read(_ loop: EventLoop) async { await withUnsafeContinuation { loop.pending = $0 } }
@inline(never) func suspend(_ loop: EventLoop) async { await read(loop) }
@inline(never) func next(_ loop: EventLoop) async -> Int? { await suspend(loop); return 1 }

enum Step { case plain, cancellable, cancellableBare, nested }

/// The task's loop; inlined into both callers, so the actor kinds' loop is in the isolated function.
@inline(__always)
func rounds(_ n: Int, _ loop: EventLoop, _ step: Step, isolation: isolated (any Actor)? = #isolation) async -> Int {
    var count = 0
    for _ in 0..<n {
        switch step {
        case .plain: await read(loop)
        // Naming the caller's isolation makes the closure isolated to it. A bare one is @concurrent (the
        // stdlib's parameter is a plain async function type), so on an actor it hops off and back each time.
        case .cancellable: await withTaskCancellationHandler { _ = isolation; await read(loop) } onCancel: {}
        case .cancellableBare: await withTaskCancellationHandler { await read(loop) } onCancel: {}
        case .nested: if await next(loop) == nil { return count }
        }
        count += 1
    }
    return count
}

func rounds(_ n: Int, _ loop: EventLoop, _ step: Step, on actor: isolated LoopActor) async -> Int {
    await rounds(n, loop, step)
}

func main() {
    let arguments = CommandLine.arguments, variant = arguments.count > 1 ? arguments[1] : ""
    let steps: [(String, Step)] = [("-cancel-bare", .cancellableBare), ("-cancel", .cancellable), ("-nested", .nested)]
    let (suffix, step) = steps.first { variant.hasSuffix($0.0) } ?? ("", .plain)
    let kind = String(variant.dropLast(suffix.count))
    // Not actor-cancel-bare: its reads would park on the global executor, which this driver does not watch.
    guard ["sync", "preference", "actor", "actor-pref", "actor-iso"].contains(kind), variant != "actor-cancel-bare",
        let n = arguments.count > 2 ? Int(arguments[2]) : 20000
    else {
        print("usage: AsyncFloor sync|preference|actor|actor-pref|actor-iso[-cancel|-cancel-bare|-nested] [ROUNDS]")
        exit(2)
    }
    let loop = EventLoop(), taskExecutor = LoopTaskExecutor(loop)
    (loop.taskExecutor, loop.isolateTaskJobs) = (taskExecutor.asUnownedTaskExecutor(), kind == "actor-iso")
    switch kind {
    case "sync":
        loop.callback = { Unmanaged<EventLoop>.fromOpaque($0!)._withUnsafeGuaranteedRef { $0.completed += 1 } }
        for _ in 0..<n { fire(loop) }
    case "preference":
        // The first job goes straight to the task executor's queue, from this thread.
        Task(executorPreference: taskExecutor) { loop.completed = await rounds(n, loop, step) }
    case "actor":
        // Isolated to the actor (it captures the isolated parameter), the task's first job goes straight to
        // the loop's queue from this thread. Each resumption goes to the global executor, though: a
        // continuation resumes on the generic executor, and the code after it hops back to the actor.
        _ = LoopActor(loop).assumeIsolated { actor in Task { loop.completed = await rounds(n, loop, step, on: actor) } }
    default:
        let actor = LoopActor(loop)
        Task(executorPreference: taskExecutor) { loop.completed = await rounds(n, loop, step, on: actor) }
    }
    drive(loop)
    print("\(variant): \(loop.completed) rounds")
    exit(loop.completed == n ? 0 : 1)
}

main()
