// UDP with async/await: datagrams as an AsyncSequence with bounded buffering, and sends that can be awaited.
import CUV

extension UDPSocket {
    /// A datagram received through `datagrams()`: the bytes are copied, so it may be kept.
    public struct ReceivedDatagram: Sendable {
        /// The payload.
        public let bytes: [UInt8]
        /// Who sent it.
        public let sender: SocketAddress
    }

    /// The datagrams this socket receives, ending when the socket closes. At most `bufferLimit` wait for the consumer
    /// (plus the rest of the recvmmsg batch in hand, at most 19); past that the socket stops receiving and the kernel
    /// queues (then drops, as UDP may) until the consumer has taken half of them. A receive error (an ICMP
    /// port-unreachable answering a connected socket, a truncated datagram) concerns one datagram, not the socket: it
    /// is skipped, and counted in `statistics.receiveErrors` (the last one in `lastReceiveError`). One iterator
    /// consumes at a time (a second one's `next()` throws `.busy`).
    public func datagrams(bufferLimit: Int = 1024) -> UDPDatagrams {
        UDPDatagrams(socket: self, bufferLimit: max(1, bufferLimit))
    }

    /// Sends one datagram and returns once it is handed to the kernel (see `send(_:to:completion:)`). Cancellation
    /// does not cut it short: a datagram goes whole or not at all, and is never reported canceled once sent.
    public func send(_ bytes: [UInt8], to address: SocketAddress? = nil) async throws {
        try await loop.suspendUntilDone { [self] (wake: Wake<Void>) in
            bytes.withUnsafeBytes { send($0, to: address) { wake.resume($0.mapError { $0 }) } }
        }
    }
}

/// The datagrams of a `UDPSocket`; see `UDPSocket.datagrams(bufferLimit:)`.
public struct UDPDatagrams: AsyncSequence, Sendable {
    public typealias Element = UDPSocket.ReceivedDatagram
    let socket: UDPSocket
    let bufferLimit: Int

    public func makeAsyncIterator() -> AsyncIterator {
        let (socket, limit) = (socket, bufferLimit)
        return AsyncIterator(
            consumer: SequenceConsumer(
                loop: socket.loop, target: { nil }, locate: { socket.datagramQueue() }, configure: { $0.limit = limit }))
    }

    /// The most datagrams ever waiting here for a consumer (on the loop's thread).
    public var peakBufferedDatagrams: Int {
        socket.checkThread()
        return socket.datagramQueue().peakQueuedCount
    }

    /// Takes the elements one `next()` at a time, on the loop's thread.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: SequenceConsumer<UDPSocket.ReceivedDatagram, DatagramQueue>

        public mutating func next() async throws -> UDPSocket.ReceivedDatagram? {
            try await consumer.next()
        }
    }
}

@available(*, unavailable, message: "an iterator belongs to one task; share the sequence instead")
extension UDPDatagrams.AsyncIterator: Sendable {}

/// The state behind `UDPDatagrams`: datagrams received ahead of the consumer, at most `limit`.
final class DatagramQueue: ConsumerQueue<UDPSocket.ReceivedDatagram>, @unchecked Sendable {  // loop thread only, as ConsumerQueue is: `attach` checks the thread, and its waits resume through `Wake.resume`, which checks too
    /// Weak: the socket owns its queue; the queue only asks it to receive or stop.
    private weak var socket: UDPSocket?
    /// The buffer limit of the consumer that attached last.
    var limit = 1024
    private var isReceiving = false

    init(socket: UDPSocket) {
        self.socket = socket
        super.init(loop: socket.loop, operation: "receive UDP on")
    }

    override func consumerWaits() {
        startReceiving()
    }

    override func consumerLeft() {
        guard isReceiving else { return }
        isReceiving = false
        socket?.stopReceiving()
    }

    override func didQueue(_ datagram: UDPSocket.ReceivedDatagram) {
        if queuedCount >= limit && isReceiving {
            isReceiving = false
            socket?.stopReceiving()
        }
    }

    override func didTake(_ datagram: UDPSocket.ReceivedDatagram) {
        if !isReceiving && end == nil && queuedCount <= limit / 2 { startReceiving() }
    }

    private func startReceiving() {
        guard !isReceiving, end == nil, let socket else { return }
        isReceiving = true
        socket.startReceiving { [self] received in
            // An error concerns one datagram (the socket counted it): receiving goes on.
            if case .success(let datagram) = received {
                deliver(UDPSocket.ReceivedDatagram(bytes: Array(datagram.bytes), sender: datagram.sender))
            }
        }
    }
}
