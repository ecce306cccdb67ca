// A listener's typed face: connections handed to a callback, taken one by one in async code, or served
// by a scoped server that owns each connection's task and closes the connection on every way out.
import CUV

/// A stream listener that makes connections of one kind (`TCPListener`: `TCPConnection`s,
/// `UnixListener`: `UnixConnection`s), and everything accepting them looks like.
public protocol ConnectionListener: StreamListener, ConnectionSource where Connection: StreamConnection {
    /// A new, unconnected connection of the listener's kind, for an accept to fill.
    @_spi(StreamLayers) func makeConnection() throws(UVError) -> Connection

    /// Where the listener keeps the queue behind `connections`, of its own kind of connection.
    @_spi(StreamLayers) var acceptedConnections: ConnectionQueueSlot<Connection> { get set }
}

/// Where a listener keeps the queue behind its `connections`, once made, for its whole life.
@_spi(StreamLayers) public struct ConnectionQueueSlot<Connection: StreamConnection> {
    var queue: ConnectionQueue<Connection>?

    /// Empty: the queue is made when first asked for.
    public init() {}
}

extension ConnectionListener {
    /// Hands every connection from now on (and every accept error) to `handler`, on the loop's thread.
    public func accept(_ handler: @escaping (Result<Connection, UVError>) -> Void) {
        acceptEach(AcceptHandler(listener: self, make: { [unowned self] () throws(UVError) in try makeConnection() }, handler))
    }

    /// Serves every connection this listener accepts, each in a child task of its own that runs
    /// `handler` and then closes the connection, however the handler ended: no connection can leak.
    ///
    /// ```swift
    /// try await listener.serve { connection in
    ///     for try await bytes in connection.inbound() { try await connection.write(bytes) }
    /// }
    /// ```
    /// An error a handler throws ends its own connection only; `onError` hears of it (with the connection, still
    /// open), and the server goes on. Closing the listener (a signal handler's graceful shutdown, say) stops
    /// accepting: `serve` returns once every connection's task has finished. Canceling the task that serves cancels
    /// every connection's task; each connection is closed, the listener too, and `serve` throws `CancellationError`.
    /// The listener is closed on every way out. Every connection's task prefers the loop's executor, so its handler
    /// runs on the loop's thread, where the connection's synchronous methods may be called. On a listener created with
    /// an accept handler, `serve` throws `.invalidArgument`: the connections are the handler's.
    public func serve(
        onError: (@Sendable (any Error, Connection) -> Void)? = nil,
        _ handler: @escaping @Sendable (Connection) async throws -> Void
    ) async throws {
        do {
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in connections {
                    // addTask, not addTaskUnlessCancelled: a connection already accepted must be closed.
                    group.addTask(executorPreference: loop.taskExecutor) {
                        do {
                            try await connection.loop.withCancellationScope { try await handler(connection) }
                        } catch {
                            onError?(error, connection)
                        }
                        await connection.close()
                    }
                }
            }
        } catch {
            await close()
            throw error
        }
        await close()
    }

    /// The listener's connections, ending when it closes. A connection is accepted only when asked for, so the rest
    /// wait in the kernel's backlog while a consumer lags. Failed accepts are skipped and counted (`acceptFailures`,
    /// `lastAcceptError`). One iterator at a time (a second one's `next()` throws `.busy`). Only for a listener
    /// without a connection handler. Prefer `serve(_:)`, which closes what it accepts.
    public var connections: AcceptedConnections<Connection> {
        AcceptedConnections(listener: self)
    }
}

/// The connections of a listener; see `ConnectionListener.connections`.
public struct AcceptedConnections<Connection: StreamConnection>: AsyncSequence, Sendable {
    public typealias Element = Connection
    let loop: Loop
    let address: String
    /// Finds the listener's queue, on the loop's thread.
    let locate: @Sendable () -> ConnectionQueue<Connection>

    init<Listener: ConnectionListener>(listener: Listener) where Listener.Connection == Connection {
        loop = listener.loop
        address = listener.addressText
        locate = {
            listener.connectionQueue(&listener.acceptedConnections.queue) { [unowned listener] () throws(UVError) in
                try listener.makeConnection()  // unowned: the listener keeps the queue, which calls this only while it is open
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        let address = address
        return AsyncIterator(consumer: SequenceConsumer(loop: loop, target: { address }, locate: locate))
    }

    /// Takes the elements one `next()` at a time, on the loop's thread.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: SequenceConsumer<Connection, ConnectionQueue<Connection>>

        public mutating func next() async throws -> Connection? {
            try await consumer.next()
        }
    }
}

@available(*, unavailable, message: "an iterator belongs to one task; share the sequence instead")
extension AcceptedConnections.AsyncIterator: Sendable {}
