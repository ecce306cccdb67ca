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

    /// The datagrams this socket receives, as an AsyncSequence. At most `bufferLimit` wait for the
    /// consumer (plus the rest of the recvmmsg batch in hand, at most 19); past that the socket stops
    /// receiving and the kernel queues (then drops, as UDP may) until the consumer has taken half of them. Receive errors end the sequence by throwing.
    public func datagrams(bufferLimit: Int = 1024) -> UDPDatagrams {
        UDPDatagrams(buffer: DatagramBuffer(socket: self, limit: max(1, bufferLimit)))
    }

    /// Sends one datagram and returns once it is handed to the kernel (see `send(_:to:completion:)`).
    public func send(_ bytes: [UInt8], to address: SocketAddress? = nil) async throws {
        try await loop.suspend(
            start: { [self] (wake: Wake<Void>) in
                bytes.withUnsafeBytes { send($0, to: address) { wake.resume($0.mapError { $0 }) } }
            },
            cancel: { wake in wake.resume(.failure(CancellationError())) })  // a datagram is sent whole or not at all
    }
}

/// The datagrams of a `UDPSocket`; see `UDPSocket.datagrams(bufferLimit:)`.
public struct UDPDatagrams: AsyncSequence, Sendable {
    public typealias Element = UDPSocket.ReceivedDatagram
    let buffer: DatagramBuffer

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(buffer: buffer) }

    /// The most datagrams ever waiting here for the consumer (read it on the loop's thread).
    public var peakBufferedDatagrams: Int { buffer.peakQueuedCount }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: DatagramBuffer
        public mutating func next() async throws -> UDPSocket.ReceivedDatagram? {
            try await buffer.next()
        }
    }
}

/// The state behind `UDPDatagrams`: datagrams received ahead of the consumer, at most `limit`.
final class DatagramBuffer: ConsumerQueue<UDPSocket.ReceivedDatagram>, @unchecked Sendable {
    private let socket: UDPSocket
    private let limit: Int
    private var isReceiving = false
    private var isObservingClose = false

    init(socket: UDPSocket, limit: Int) {
        self.socket = socket
        self.limit = limit
        super.init(loop: socket.loop)
    }

    override func consumerWaits() {
        startReceiving()
    }

    override func didQueue(_ datagram: UDPSocket.ReceivedDatagram) {
        if queuedCount >= limit {
            isReceiving = false
            socket.stopReceiving()
        }
    }

    override func didTake(_ datagram: UDPSocket.ReceivedDatagram) {
        if !isReceiving && end == nil && queuedCount <= limit / 2 { startReceiving() }
    }

    private func startReceiving() {
        guard !isReceiving, end == nil else { return }
        isReceiving = true
        if !isObservingClose {
            isObservingClose = true
            socket.observeClose { [weak self] in self?.finish(.success(())) }
        }
        socket.startReceiving { [self] received in
            switch received {
            case .success(let datagram):
                deliver(UDPSocket.ReceivedDatagram(bytes: Array(datagram.bytes), sender: datagram.sender))
            case .failure(let error):
                finish(.failure(error))
            }
        }
    }
}

extension Resolver {
    /// Resolves `host` (and `service`) to addresses; see the callback form. Canceling the task cancels
    /// the request if it is still queued.
    public static func resolve(
        host: String?, service: String? = nil, family: Family = .any, socketType: SocketType = .stream,
        flags: Flags = [], on loop: Loop
    ) async throws -> [SocketAddress] {
        let pending = RequestBox()
        return try await loop.suspend(
            start: { wake in
                pending.request = resolve(
                    host: host, service: service, family: family, socketType: socketType, flags: flags, on: loop
                ) { wake.resume($0.mapError { $0 }) }
            },
            cancel: { wake in
                // A queued request completes with .canceled; one already running is waited out.
                if pending.request?.cancel() != true { wake.resume(.failure(CancellationError())) }
            })
    }
}

private final class RequestBox: @unchecked Sendable {
    var request: Resolver.Request?
}
