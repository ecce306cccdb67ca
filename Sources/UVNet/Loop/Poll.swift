// Watching a descriptor UVNet does not own (another C library's socket, a pipe, a device) for readiness, as a handle.
import CUV

/// Watches a descriptor for readable, writable or hang-up, and runs a callback on the loop's thread.
///
/// ```swift
/// let poll = try Poll(descriptor: fd, on: loop)
/// poll.start([.readable, .disconnect]) { result in
///     guard case .success(let events) = result else { return poll.close() }
///     if events.contains(.readable) { /* read(fd, …) until EAGAIN */ }
/// }
/// ```
/// The descriptor stays the caller's: closing the poll does not close it (close the poll first, then the descriptor).
/// libuv allows one poll per descriptor, and none on a descriptor another handle of the loop owns.
public final class Poll: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    /// What a descriptor is ready for.
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: CInt
        public init(rawValue: CInt) { self.rawValue = rawValue }
        /// Data to read (or a listening socket's connection to accept). Maps to `UV_READABLE`.
        public static let readable = Events(rawValue: CInt(UV_READABLE.rawValue))
        /// Room to write. Maps to `UV_WRITABLE`.
        public static let writable = Events(rawValue: CInt(UV_WRITABLE.rawValue))
        /// The other end hung up (a socket's half-close, a pipe's writer gone). Maps to `UV_DISCONNECT`.
        public static let disconnect = Events(rawValue: CInt(UV_DISCONNECT.rawValue))
        /// Urgent data. Maps to `UV_PRIORITIZED`.
        public static let prioritized = Events(rawValue: CInt(UV_PRIORITIZED.rawValue))
    }

    /// The descriptor watched.
    public let descriptor: CInt
    private var handler: ((Result<Events, UVError>) -> Void)?
    /// A task waiting in `ready(for:)`, told when the poll closes under it.
    private var waiter: Wake<Events>?

    /// Prepares to watch `descriptor`. The corresponding C function is `uv_poll_init`.
    public init(descriptor: CInt, on loop: Loop) throws(UVError) {
        self.descriptor = descriptor
        try super.init(loop: loop, cType: uv_poll_t.self, operation: "watch descriptor")
        try uvCheck(uv_poll_init(loop.raw, rawHandle.cast(to: uv_poll_t.self), descriptor), "watch descriptor", target: "\(descriptor)")
        didOpen()
    }

    /// Calls `handler` whenever the descriptor is ready for any of `events` (level-triggered: again and
    /// again while it stays ready), or with the error when watching fails. Calling it again changes the
    /// events and the handler. The corresponding C function is `uv_poll_start`.
    public func start(_ events: Events, _ handler: @escaping (Result<Events, UVError>) -> Void) {
        checkThread()
        guard lifecycle == .open else {
            return handler(.failure(UVError.badFileDescriptor.during("watch descriptor", target: "\(descriptor)")))
        }
        self.handler = handler
        do {
            try uvCheck(uv_poll_start(rawHandle.cast(to: uv_poll_t.self), events.rawValue, Poll.ready),
                        "watch descriptor", target: "\(descriptor)")
        } catch {
            self.handler = nil
            handler(.failure(error))
        }
    }

    /// Stops watching; `start` may be called again. The corresponding C function is `uv_poll_stop`.
    public func stop() {
        checkThread()
        guard lifecycle == .open else { return }
        uv_poll_stop(rawHandle.cast(to: uv_poll_t.self))
    }

    /// Waits until the descriptor is ready for any of `events`, and returns the events it is ready for (watching stops
    /// again). Canceling the task ends the wait with `CancellationError`; closing the poll ends it with `.canceled`.
    public func ready(for events: Events) async throws -> Events {
        try await loop.suspend(
            { [self] (wake: Wake<Events>) in
                waiter = wake
                start(events) { [self] result in
                    stop()
                    waiter = nil
                    wake.resume(result.mapError { $0 })
                }
            },
            abandon: { [self] in
                waiter = nil
                stop()
            })
    }

    override func didEnter(_ state: State) {
        if state == .closing, let waiter {
            self.waiter = nil
            waiter.resume(.failure(UVError.canceled.during("watch descriptor", target: "\(descriptor)")))
        }
        if state == .closed { handler = nil }
        super.didEnter(state)
    }

    private static let ready: uv_poll_cb = { raw, status, events in
        Handle.callback(raw, as: Poll.self) { poll in
            let result = uvResult(status, "watch descriptor", target: "\(poll.descriptor)").map { Events(rawValue: events) }
            poll.handler?(result)
        }
    }
}
