// A UVNet server as a swift-service-lifecycle Service, with the ServiceLifecycle package trait: run it
// in a ServiceGroup beside the rest of a Swift server, and SIGTERM drains it like every other service.
#if ServiceLifecycle
import ServiceLifecycle

/// Serves TCP connections with the scoped server on `loopCount` loops of its own (one thread each,
/// `SO_REUSEPORT` when more than one), until graceful shutdown: then it stops accepting, lets the open
/// connections finish for up to `drainTimeout`, cancels those still open after that, and returns.
///
/// ```swift
/// let echo = TCPServerService(address: try SocketAddress(ip: "0.0.0.0", port: 9000)) { connection in
///     for try await bytes in connection.inbound() { try await connection.write(bytes) }
/// }
/// try await ServiceGroup(services: [echo], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
/// Each connection's handler runs on its loop's thread, as with `ConnectionListener.serve`.
public struct TCPServerService: Service {
    /// Where it listens.
    public let address: SocketAddress
    /// How many loops (one thread each) serve, sharing the port.
    public let loopCount: Int
    /// How long open connections may take to finish once graceful shutdown has begun.
    public let drainTimeout: Duration
    private let handler: @Sendable (TCPConnection) async throws -> Void

    /// A service that serves `handler` on every connection to `address` (see the type).
    public init(
        address: SocketAddress, loopCount: Int = 1, drainTimeout: Duration = .seconds(10),
        _ handler: @escaping @Sendable (TCPConnection) async throws -> Void
    ) {
        self.address = address
        self.loopCount = max(1, loopCount)
        self.drainTimeout = drainTimeout
        self.handler = handler
    }

    /// Serves until graceful shutdown, then drains (see the type); throws what listening throws.
    public func run() async throws {
        let group = try await LoopGroup(loopCount: loopCount)
        let listeners = Locked<[TCPListener]>([])  // made on each loop's thread, closed from anywhere
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await serve(on: group, listeners) }
                tasks.addTask {
                    try await gracefulShutdown()
                    for listener in listeners.withLock({ $0 }) {
                        try? listener.loop.execute { listener.close() }
                    }
                    try await Task.sleep(for: drainTimeout)
                    // Still open at the deadline: the connections' tasks are canceled, and closed.
                }
                try await tasks.next()
                tasks.cancelAll()
            }
        } catch {
            await group.shutdown()
            throw error
        }
        await group.shutdown()
    }

    /// The scoped server on every loop, until each listener is closed and its connections have ended.
    private func serve(on group: LoopGroup, _ listeners: Locked<[TCPListener]>) async throws {
        let options: TCPListener.Options = group.loops.count > 1 ? .reusePort : []
        try await withThrowingDiscardingTaskGroup { loops in
            for loop in group.loops {
                loops.addTask(executorPreference: loop.taskExecutor) {
                    let listener = try TCPListener(on: loop, address: address, options: options)
                    listeners.withLock { $0.append(listener) }
                    try await listener.serve(handler)
                }
            }
        }
    }
}
#endif
