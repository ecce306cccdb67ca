// Handing TCP connections and listeners over an IPC pipe: how a pre-fork server (Node's cluster) shares its listener.
import CUV

extension UnixConnection {
    /// A TCP handle that came over an IPC pipe, open on this loop now.
    public enum ReceivedHandle: Sendable {
        /// A connected TCP socket.
        case connection(TCPConnection)
        /// A listening TCP socket: accept on it as on any listener.
        case listener(TCPListener)
    }

    /// Sends `connection` over this IPC pipe to the process (or loop) whose `receivedHandles()` gets it. The socket is
    /// duplicated: close this side's once `completion` says it went. The corresponding C function is `uv_write2`.
    public func send(_ connection: TCPConnection, completion: Completion? = nil) {
        checkThread()
        send(connection.stream, completion: completion)
    }

    /// Sends `listener` (see the connection form): the other side accepts on the same socket, and the
    /// kernel shares the incoming connections among everyone who does.
    public func send(_ listener: TCPListener, completion: Completion? = nil) {
        checkThread()
        send(listener.stream, completion: completion)
    }

    /// Sends a handle with one byte to carry it (a handle cannot travel alone).
    private func send(_ handle: UnsafeMutablePointer<uv_stream_t>, completion: Completion?) {
        let operation = "send a handle over"
        guard isIPC else {
            completion?(.failure(UVError(UV_EINVAL.rawValue, operation: operation, target: peerName,
                                         detail: "handles travel over IPC pipes only (ipc: true)")))
            return
        }
        guard lifecycle == .open else {
            completion?(.failure(UVError.badFileDescriptor.during(operation, target: peerName)))
            return
        }
        // Queued behind what is queued already, so the handle arrives in order with the bytes.
        Self.carrier.withUnsafeBytes { enqueue($0, lent: false, carrying: handle, completion: completion) }
    }

    /// The byte each handle rides on.
    private static let carrier: [UInt8] = [UInt8(ascii: "H")]

    /// Sends `connection` and returns once it went (see the callback form).
    public func send(_ connection: TCPConnection) async throws {
        try await loop.suspendUntilDone { [self] (wake: Wake<Void>) in send(connection) { wake.resume($0.mapError { $0 }) } }
    }

    /// Sends `listener` and returns once it went (see the callback form).
    public func send(_ listener: TCPListener) async throws {
        try await loop.suspendUntilDone { [self] (wake: Wake<Void>) in send(listener) { wake.resume($0.mapError { $0 }) } }
    }

    /// Takes the next handle that came with what was read: call it from the read callback (or after) until it returns
    /// nil. The corresponding C functions are `uv_pipe_pending_count`, `uv_pipe_pending_type` and `uv_accept`.
    public func takeReceivedHandle() throws(UVError) -> ReceivedHandle? {
        checkThread()
        guard lifecycle == .open, isIPC, uv_pipe_pending_count(pipe) > 0 else { return nil }
        let operation = "receive a handle over"
        guard uv_pipe_pending_type(pipe) == UV_TCP else {
            throw UVError(UV_EINVAL.rawValue, operation: operation, target: peerName,
                          detail: "only TCP connections and listeners are taken")
        }
        let connection = try TCPConnection(on: loop)
        do {
            try uvCheck(uv_accept(stream, connection.stream), operation, target: peerName)
            let listening = try uvCheck(cuv_is_listening(try connection.descriptor(operation)), operation, target: peerName)
            guard listening == 1 else {
                connection.didAccept()
                return .connection(connection)
            }
        } catch {
            connection.close()
            throw error
        }
        // A listening socket: a copy of its descriptor moves into a listener.
        defer { connection.close() }
        let copy = dup(try connection.descriptor("receive a handle over"))
        try posixCheck(copy, "receive a handle over", target: peerName)
        return .listener(try TCPListener(adopting: copy, on: loop))
    }

    /// The handles that come over this IPC pipe, as an AsyncSequence that ends when the other side
    /// closes it (the bytes they ride on are dropped). One iterator consumes at a time.
    ///
    /// ```swift
    /// let channel = try UnixConnection(adopting: 3, on: loop, ipc: true)   // from the parent
    /// for try await case .listener(let listener) in channel.receivedHandles() {
    ///     try await listener.serve { connection in … }
    /// }
    /// ```
    public func receivedHandles() -> ReceivedHandles {
        ReceivedHandles(connection: self)
    }

    /// The queue behind `receivedHandles()`.
    func handleQueue() -> HandleQueue {
        sequenceQueue(&handles) { HandleQueue(connection: self) }
    }
}

/// The handles of an IPC pipe; see `UnixConnection.receivedHandles()`.
public struct ReceivedHandles: AsyncSequence, Sendable {
    public typealias Element = UnixConnection.ReceivedHandle
    let connection: UnixConnection

    public func makeAsyncIterator() -> AsyncIterator {
        let connection = connection
        return AsyncIterator(
            consumer: SequenceConsumer(
                loop: connection.loop, target: { [connection] in connection.peerName },
                locate: { connection.handleQueue() }))
    }

    /// Takes the elements one `next()` at a time, on the loop's thread.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: SequenceConsumer<UnixConnection.ReceivedHandle, HandleQueue>

        public mutating func next() async throws -> UnixConnection.ReceivedHandle? {
            try await consumer.next()
        }
    }
}

@available(*, unavailable, message: "an iterator belongs to one task; share the sequence instead")
extension ReceivedHandles.AsyncIterator: Sendable {}

/// The state behind `ReceivedHandles`: the pipe is read while a consumer waits, and every handle that
/// comes is taken at once (libuv would drop those left behind at the next read).
final class HandleQueue: ConsumerQueue<UnixConnection.ReceivedHandle>, @unchecked Sendable {  // loop thread only, as ConsumerQueue is: `attach` checks the thread, and its waits resume through `Wake.resume`, which checks too
    private weak var connection: UnixConnection?
    private var isReading = false

    init(connection: UnixConnection) {
        self.connection = connection
        super.init(loop: connection.loop, operation: "receive a handle over")
    }

    override func consumerWaits() {
        guard !isReading, end == nil, let connection else { return }
        isReading = true
        connection.startReading { [self] result in
            switch result {
            case .success:
                do throws(UVError) {
                    while let handle = try connection.takeReceivedHandle() { deliver(handle) }
                } catch {
                    finish(.failure(error))
                }
            case .failure(let error):
                finish(error == .eof ? .success(()) : .failure(error))
            }
        }
    }
}
