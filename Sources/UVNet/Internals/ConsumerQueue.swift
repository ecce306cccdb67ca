// The queue between a loop callback that produces items and the one iterator that consumes them.
import CUV

/// Items a loop callback (a read, receive or accept) produces for one async consumer at a time: the queue, the
/// consumer's wait, the end, and who consumes. Subclasses set the buffering: when production starts and pauses.
///
/// A handle keeps its queue for life, so an iterator that goes away loses nothing: what was produced ahead of it waits
/// for the next. A second iterator's `next()` throws `.busy` instead of stealing the first one's wait.
class ConsumerQueue<Item: Sendable>: @unchecked Sendable {  // touched on the loop's thread only: `next` gets there through `Loop.suspend`, the rest runs in libuv callbacks; `attach` checks
    let loop: Loop
    /// What consuming is called in error messages: "read from", "accept on", ….
    private let operation: String
    // Unchecked: touched on the loop's thread only, and no access calls out while it lasts (a wake is resumed, a
    // hook called, only after the field has changed); the dynamic checks cost some 450 instructions a message.
    @exclusivity(unchecked) private var items: [Item] = []
    @exclusivity(unchecked) private var head = 0
    @exclusivity(unchecked) private var waiter: Wake<Item?>?
    /// Set once the sequence is over: `.success` for a clean end, else the error it ends with.
    private(set) var end: Result<Void, any Error>?
    /// The claim of the iterator consuming now; claims are numbered so a late release cannot free a newer one.
    private var consumer: Int?
    private var claims = 0

    init(loop: Loop, operation: String) {
        self.loop = loop
        self.operation = operation
    }

    /// Items waiting for the consumer.
    final var queuedCount: Int { items.count - head }
    /// The most items that ever waited at once.
    private(set) final var peakQueuedCount = 0
    /// True while the consumer waits for an item.
    final var hasWaiter: Bool { waiter?.isPending == true }

    /// Makes a new iterator the consumer and returns its claim, or throws `.busy` if another one is.
    final func attach(target: @autoclosure () -> String?) throws(UVError) -> Int {
        loop.checkOnLoopThread("an iterator of a UVNet sequence")
        if consumer != nil {
            throw UVError(
                UV_EBUSY.rawValue, operation: operation, target: target(),
                detail: "another iterator is consuming this sequence; it has one consumer at a time")
        }
        claims += 1
        consumer = claims
        return claims
    }

    /// The next item when one is queued, without waiting.
    @inline(__always)
    final func takeIfReady() -> Item? {
        guard head < items.count else { return nil }
        let item = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        didTake(item)
        return item
    }

    /// Resumes `wake` with the next item, the end, or (once one comes) a produced item.
    final func wait(_ wake: Wake<Item?>) {
        if let item = takeIfReady() { return wake.resume(.success(item)) }
        if let end { return wake.resume(end.map { nil }) }
        waiter = wake
        consumerWaits()
    }

    /// The consumer gave up waiting (canceled, or timed out): nothing it was owed is lost.
    final func stopWaiting() {
        waiter = nil
    }

    /// The iterator holding `claim` went away: the next one may consume; production pauses until then.
    final func release(_ claim: Int) {
        guard consumer == claim else { return }
        consumer = nil
        stopWaiting()
        if end == nil { consumerLeft() }
    }

    /// Hands `item` straight to a waiting consumer, or queues it.
    final func deliver(_ item: Item) {
        if let waiter, waiter.isPending, head == items.count {
            self.waiter = nil
            return waiter.resume(.success(item))
        }
        items.append(item)
        peakQueuedCount = max(peakQueuedCount, queuedCount)
        didQueue(item)
    }

    /// Ends the sequence after the items already queued (idempotent: the first end stands).
    final func finish(_ outcome: Result<Void, any Error>) {
        guard end == nil else { return }
        end = outcome
        guard let waiter, head == items.count else { return }
        self.waiter = nil
        waiter.resume(outcome.map { nil })
    }

    /// The consumer waits for an item: make sure production runs.
    func consumerWaits() {}
    /// The consumer went away: pause production until another comes.
    func consumerLeft() {}
    /// An item was queued: pause production past the buffering limit.
    func didQueue(_ item: Item) {}
    /// The consumer took a queued item: resume production below the limit.
    func didTake(_ item: Item) {}
}

extension Handle {
    /// The queue a handle keeps for one of its sequences, in `stored`: made when first asked for and
    /// kept for the handle's life; on a handle no longer open, one that has ended already.
    final func sequenceQueue<Item, Queue: ConsumerQueue<Item>>(_ stored: inout Queue?, _ make: () -> Queue) -> Queue {
        if let stored { return stored }
        let queue = make()
        stored = queue
        if lifecycle != .open { queue.finish(.success(())) }
        return queue
    }
}

/// One iterator's hold on a handle's queue: found and claimed on the first `next()`, on the loop's thread, and
/// released (production pauses) when the iterator goes away. After the end (nil or an error) it answers nil.
final class SequenceConsumer<Item: Sendable, Queue: ConsumerQueue<Item>>: @unchecked Sendable {  // used on the loop's thread only (`ConsumerQueue.attach` checks); deinit hops there
    private let loop: Loop
    /// Finds the handle's queue.
    private let locate: () -> Queue
    /// Sets the queue up for this consumer (its buffering limits), once it holds the claim.
    private let configure: (Queue) -> Void
    private let timeout: Timeout?
    private let target: @Sendable () -> String?
    // Unchecked, as the queue's fields are: one iterator's task on the loop's thread, and nothing calls out mid-access.
    @exclusivity(unchecked) private var queue: Queue?
    @exclusivity(unchecked) private var claim: Int?
    @exclusivity(unchecked) private var isDone = false
    /// The one wake this consumer's waits reuse: a `next()` that suspends allocates none.
    private let wake: Wake<Item?>

    init(
        loop: Loop, timeout: Timeout? = nil, target: @escaping @Sendable () -> String?,
        locate: @escaping () -> Queue, configure: @escaping (Queue) -> Void = { _ in }
    ) {
        self.loop = loop
        self.timeout = timeout
        self.target = target
        self.locate = locate
        self.configure = configure
        wake = Wake(loop: loop)
    }

    deinit {
        guard let queue, let claim else { return }
        if loop.isOnLoopThread {
            queue.release(claim)
        } else {
            try? loop.execute { queue.release(claim) }  // a closed loop has ended the queue already
        }
    }

    /// The next item; nil at the end. On the loop's thread, with an item waiting, it does not suspend.
    @inline(__always)
    func next() async throws -> Item? {
        if loop.isOnLoopThread, let queue, let item = queue.takeIfReady() { return item }
        guard !isDone else { return nil }
        do {
            let item: Item? = try await loop.suspend(
                reusing: wake, timeout: timeout,
                { [self] wake in
                    do {
                        try attached().wait(wake)
                    } catch {
                        wake.resume(.failure(error))
                    }
                },
                abandon: { [self] in queue?.stopWaiting() })
            if item == nil { isDone = true }
            return item
        } catch let error as UVError where error == .busy {
            throw error  // another iterator consumes: this one may try again once it is gone
        } catch {
            if !(error is CancellationError) { isDone = true }
            throw error
        }
    }

    private func attached() throws(UVError) -> Queue {
        if let queue { return queue }
        let queue = locate()
        claim = try queue.attach(target: target())
        self.queue = queue
        configure(queue)
        return queue
    }
}
