// What TCP and Unix listeners share: accepting on demand, for a handler or one task; pausing when out of descriptors.
import CUV
import Glibc

/// The base of `TCPListener` and `UnixListener`: everything but how the socket is made and bound, and what kind of
/// connection it makes. Their typed API (`accept(_:)`, `connections`, `serve(_:)`) comes from `ConnectionListener`.
public class StreamListener: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    /// The address (or path) asked for, as text for error messages.
    let addressText: String
    /// The accept handler, when the connections are a callback's.
    private var handler: (any ConnectionTaker)?
    /// The queue behind `connections`, once made: kept for the listener's life.
    private var queue: (any ConnectionTaker)?
    private var backoff: AcceptBackoff?
    private var failures = 0
    private var lastFailure: UVError?
    private var backlog: CInt = 511
    /// Whether libuv watches the socket for connections: only once somebody wants one. Until then the
    /// kernel queues them, and a listener that is only passed on (a pre-fork parent's) never takes one.
    private var isWatching = false
    /// Whether libuv has accepted a connection that we have not taken yet: it stops watching the socket
    /// until we do (uv_accept). Known from its callback, so no private libuv field need be read.
    private var holdsConnection = false

    init<T>(loop: Loop, cType: T.Type, addressText: String) throws(UVError) {
        self.addressText = addressText
        try super.init(loop: loop, cType: cType, operation: "create listener")
    }

    var stream: UnsafeMutablePointer<uv_stream_t> {
        rawHandle.cast(to: uv_stream_t.self)
    }

    /// Makes the bound socket listen: clients may connect (into the kernel's backlog) from now on. libuv starts
    /// watching it once somebody wants a connection. The corresponding C function is `listen`.
    func listen(backlog: Int) throws(UVError) {
        self.backlog = CInt(clamping: backlog)
        try posixCheck(Glibc.listen(try descriptor("listen on"), self.backlog), "listen on", target: addressText)
        if handler != nil { watch() }
    }

    /// A new descriptor for the same listening socket (`dup`): hand it to `TCPListener(adopting:on:)`
    /// on another loop (or pass it to a child process) to accept there too. The caller owns it.
    public func duplicateDescriptor() throws(UVError) -> CInt {
        checkThread()
        try checkOpen("duplicate", target: addressText)
        let copy = dup(try descriptor("duplicate"))
        try posixCheck(copy, "duplicate", target: addressText)
        return copy
    }

    /// Has libuv watch the socket for connections. The corresponding C function is `uv_listen`.
    private func watch() {
        guard !isWatching, lifecycle == .open else { return }
        do {
            try uvCheck(uv_listen(stream, backlog, StreamListener.incoming), "listen on", target: addressText)
            isWatching = true
        } catch {
            acceptFailed(error)
        }
    }

    /// The number of accepts that failed with nobody there to be told (`connections` and `serve` skip them and go on).
    public var acceptFailures: Int {
        checkThread()
        return failures
    }

    /// The last accept failure (see `acceptFailures`).
    public var lastAcceptError: UVError? {
        checkThread()
        return lastFailure
    }

    private static let incoming: uv_connection_cb = { server, status in
        Handle.callback(server, as: StreamListener.self) { listener in
            switch uvResult(status, "accept", target: listener.addressText) {
            case .failure(let error):
                listener.acceptFailed(error)
            case .success:
                // Left un-accepted (nobody asked yet, or a pause is on), libuv stops watching the
                // socket until uv_accept: that is how the listener pushes back.
                listener.holdsConnection = true
                listener.takeHeldConnection()
            }
        }
    }

    /// Hands every connection from now on (and every accept error) to `handler` (see `accept(_:)`).
    /// (A listener being made sets its handler before it listens, and so before it could take one.)
    final func acceptEach(_ handler: any ConnectionTaker, takingNow: Bool = true) {
        checkThread()
        guard lifecycle == .open else { return }
        self.handler = handler
        if takingNow { takeHeldConnection() }
    }

    /// The queue behind `connections`, kept in `stored` by the listener's own kind; one that has ended
    /// already on a closed listener, or on one whose connections go to its accept handler.
    final func connectionQueue<Connection>(
        _ stored: inout ConnectionQueue<Connection>?, making make: @escaping () throws(UVError) -> Connection
    ) -> ConnectionQueue<Connection> {
        sequenceQueue(&stored) {
            let made = ConnectionQueue(listener: self, make: make)
            queue = made
            if handler != nil {
                made.finish(.failure(UVError(
                    UV_EINVAL.rawValue, operation: "accept on", target: addressText,
                    detail: "this listener hands its connections to its accept handler")))
            }
            return made
        }
    }

    private var wantsConnection: Bool {
        handler != nil || queue?.wantsConnection == true
    }

    /// Accepts the connection libuv holds un-accepted, if there is one, somebody wants it and no pause
    /// is on: libuv does not call again (nor watch the socket) until it is taken.
    func takeHeldConnection() {
        guard wantsConnection else { return }
        watch()
        if backoff?.isPausing != true, holdsConnection { acceptPending() }
    }

    private func acceptPending() {
        (handler ?? queue)?.takeConnection()
    }

    /// Accepts the connection libuv holds into `make()`'s new connection, of the listener's own kind.
    final func accept<Connection: StreamConnection>(
        into make: () throws(UVError) -> Connection
    ) -> Result<Connection, UVError> {
        let connection: Connection
        do {
            connection = try make()
        } catch {
            acceptFailed(error)
            return .failure(error)
        }
        // uv_accept lets go of the held connection whether it succeeds or not.
        holdsConnection = false
        do {
            try uvCheck(uv_accept(stream, connection.stream), "accept", target: addressText)
        } catch {
            connection.close()
            acceptFailed(error)
            return .failure(error)
        }
        connection.didAccept()
        return .success(connection)
    }

    /// Reports the error. When it means "out of descriptors", also pauses accepting:
    /// libuv would otherwise retry accept() at once, spinning a core and flooding the handler.
    private func acceptFailed(_ error: UVError) {
        failures += 1
        lastFailure = error
        if AcceptBackoff.isResourceShortage(error) && lifecycle == .open {
            if backoff == nil { backoff = AcceptBackoff(loop: loop) }
            let firstReport = backoff!.pause { [unowned self] in self.resumeAccepting() }
            if firstReport { handler?.acceptFailed(error) }
        } else {
            handler?.acceptFailed(error)
        }
    }

    /// After a pause: once descriptors are free again, take what waited (uv_accept also restarts
    /// watching) — but only for someone who wants it; otherwise it waits on, and libuv with it.
    private func resumeAccepting() {
        guard lifecycle == .open, let backoff else { return }
        guard backoff.resourcesAvailable() else {
            backoff.pauseAgain { [unowned self] in self.resumeAccepting() }
            return
        }
        backoff.resume()
        takeHeldConnection()
    }

    override func didEnter(_ state: State) {
        if state == .closing {
            backoff?.close()
            backoff = nil
            queue?.listenerClosing()
        }
        if state == .closed { handler = nil }
        super.didEnter(state)
    }
}

/// Whoever takes a listener's connections (of its own kind): its accept handler, or the queue behind `connections`.
protocol ConnectionTaker: AnyObject {
    /// Whether it wants a connection now.
    var wantsConnection: Bool { get }
    /// Takes the connection the listener holds (see `StreamListener.accept(into:)`).
    func takeConnection()
    /// Hears of an accept that failed.
    func acceptFailed(_ error: UVError)
    /// The listener is closing.
    func listenerClosing()
}

/// A listener's accept handler: every connection, and every accept error, go to it.
final class AcceptHandler<Connection: StreamConnection>: ConnectionTaker {
    private unowned let listener: StreamListener
    private let make: () throws(UVError) -> Connection
    private let handler: (Result<Connection, UVError>) -> Void

    init(listener: StreamListener, make: @escaping () throws(UVError) -> Connection, _ handler: @escaping (Result<Connection, UVError>) -> Void) {
        self.listener = listener
        self.make = make
        self.handler = handler
    }

    var wantsConnection: Bool { true }

    /// A failed accept has been reported already (`acceptFailed`, once per pause when out of descriptors).
    func takeConnection() {
        if case .success(let connection) = listener.accept(into: make) { handler(.success(connection)) }
    }

    func acceptFailed(_ error: UVError) { handler(.failure(error)) }
    func listenerClosing() {}
}

/// The connections waiting for `connections`: accepted only while a consumer waits, and
/// handed straight to it, so a consumer that lags leaves the rest in the kernel's backlog.
final class ConnectionQueue<Connection: StreamConnection>: ConsumerQueue<Connection>, ConnectionTaker, @unchecked Sendable {  // loop thread only, as ConsumerQueue is: `attach` checks the thread, and its waits resume through `Wake.resume`, which checks too
    /// Weak: the listener owns its queue; the queue only asks it to accept.
    private weak var listener: StreamListener?
    private let make: () throws(UVError) -> Connection

    init(listener: StreamListener, make: @escaping () throws(UVError) -> Connection) {
        self.listener = listener
        self.make = make
        super.init(loop: listener.loop, operation: "accept on")
    }

    var wantsConnection: Bool { hasWaiter }

    /// A failed accept is skipped (the listener counts it); the consumer waits on.
    func takeConnection() {
        if case .success(let connection)? = listener?.accept(into: make) { deliver(connection) }
    }

    func acceptFailed(_ error: UVError) {}
    func listenerClosing() { finish(.success(())) }

    override func consumerWaits() {
        listener?.takeHeldConnection()
    }
}
