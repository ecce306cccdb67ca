// UDP with async/await: datagrams as an AsyncSequence with bounded buffering, and sends that can be awaited.
import CUV

extension UDPSocket {
    /// A datagram received through `datagrams()`: the bytes are copied, so it may be kept.
    public struct ReceivedDatagram: Sendable {
        public let bytes: [UInt8]
        public let sender: SocketAddress
    }

    /// The datagrams this socket receives, as an AsyncSequence. At most `bufferLimit` wait for the
    /// consumer; past that the socket stops receiving and the kernel queues (then drops, as UDP may)
    /// until the consumer has taken half of them. Receive errors end the sequence by throwing.
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

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: DatagramBuffer
        public mutating func next() async throws -> UDPSocket.ReceivedDatagram? {
            try await buffer.next()
        }
    }
}

/// The state behind `UDPDatagrams`, touched only on the loop's thread.
final class DatagramBuffer: @unchecked Sendable {
    private let socket: UDPSocket
    private let limit: Int
    private var queue: [UDPSocket.ReceivedDatagram] = []
    private var head = 0
    private var waiter: Wake<UDPSocket.ReceivedDatagram?>?
    /// Set once the sequence is over: `.some(nil)` ended cleanly (the socket closed), else the error.
    private var end: UVError??
    private var isReceiving = false
    private var isObservingClose = false

    init(socket: UDPSocket, limit: Int) {
        self.socket = socket
        self.limit = limit
    }

    func next() async throws -> UDPSocket.ReceivedDatagram? {
        if socket.loop.isOnLoopThread, let datagram = take() { return datagram }
        return try await socket.loop.suspend(
            start: { [self] wake in
                if let datagram = take() { return wake.resume(.success(datagram)) }
                if let end { return wake.resume(end.map { .failure($0) } ?? .success(nil)) }
                waiter = wake
                startReceiving()
            },
            cancel: { [self] wake in
                waiter = nil
                wake.resume(.failure(CancellationError()))
            })
    }

    private func take() -> UDPSocket.ReceivedDatagram? {
        guard head < queue.count else { return nil }
        let datagram = queue[head]
        head += 1
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        }
        if !isReceiving && end == nil && queue.count - head <= limit / 2 { startReceiving() }
        return datagram
    }

    private func startReceiving() {
        guard !isReceiving, end == nil else { return }
        isReceiving = true
        if !isObservingClose {
            isObservingClose = true
            socket.observeClose { [weak self] in self?.finish(nil) }
        }
        socket.startReceiving { [self] received in
            switch received {
            case .success(let datagram):
                let copy = UDPSocket.ReceivedDatagram(bytes: Array(datagram.bytes), sender: datagram.sender)
                if let waiter, head == queue.count {
                    self.waiter = nil
                    return waiter.resume(.success(copy))
                }
                queue.append(copy)
                if queue.count - head >= limit {
                    isReceiving = false
                    socket.stopReceiving()
                }
            case .failure(let error):
                finish(error)
            }
        }
    }

    /// Ends the sequence: with an error, or (nil) cleanly when the socket closes.
    private func finish(_ error: UVError?) {
        guard end == nil else { return }
        end = .some(error)
        guard let waiter, head == queue.count else { return }
        self.waiter = nil
        waiter.resume(error.map { .failure($0) } ?? .success(nil))
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
