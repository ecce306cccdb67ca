// The queue between a loop callback that produces items and the one task that consumes them.
import CUV

/// Items produced on the loop's thread (by a read or receive callback) for one async consumer: the
/// queue, the consumer's wait, and the end of the sequence. Subclasses decide when production starts
/// and pauses (their buffering limits). Touched only on the loop's thread.
class ConsumerQueue<Item: Sendable>: @unchecked Sendable {
    let loop: Loop
    private var items: [Item] = []
    private var head = 0
    private var waiter: Wake<Item?>?
    /// Set once the sequence is over: `.success` for a clean end, else the error it ends with.
    private(set) var end: Result<Void, UVError>?

    init(loop: Loop) {
        self.loop = loop
    }

    /// Items waiting for the consumer.
    final var queuedCount: Int { items.count - head }
    /// The most items that ever waited at once.
    private(set) final var peakQueuedCount = 0

    /// The next item; nil at a clean end. On the loop's thread, with an item waiting, it does not suspend.
    @inline(__always)
    final func next() async throws -> Item? {
        if loop.isOnLoopThread, let item = take() { return item }
        return try await loop.suspend(
            start: { [self] wake in
                if let item = take() { return wake.resume(.success(item)) }
                if let end { return wake.resume(end.map { nil }.mapError { $0 }) }
                waiter = wake
                consumerWaits()
            },
            cancel: { [self] wake in
                waiter = nil
                consumerStoppedWaiting()
                wake.resume(.failure(CancellationError()))
            })
    }

    /// Hands `item` straight to a waiting consumer, or queues it.
    final func deliver(_ item: Item) {
        if let waiter, head == items.count {
            self.waiter = nil
            consumerStoppedWaiting()
            return waiter.resume(.success(item))
        }
        items.append(item)
        peakQueuedCount = max(peakQueuedCount, queuedCount)
        didQueue(item)
    }

    /// Ends the sequence after the items already queued (idempotent: the first end stands).
    final func finish(_ outcome: Result<Void, UVError>) {
        guard end == nil else { return }
        end = outcome
        didFinish()
        guard let waiter, head == items.count else { return }
        self.waiter = nil
        waiter.resume(outcome.map { nil }.mapError { $0 })
    }

    private func take() -> Item? {
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

    /// The consumer waits for an item: make sure production runs (and arm any timeout).
    func consumerWaits() {}
    /// The consumer no longer waits (it got an item, or was canceled): disarm any timeout.
    func consumerStoppedWaiting() {}
    /// An item was queued: pause production past the buffering limit.
    func didQueue(_ item: Item) {}
    /// The consumer took a queued item: resume production below the limit.
    func didTake(_ item: Item) {}
    /// The sequence ended.
    func didFinish() {}
}
