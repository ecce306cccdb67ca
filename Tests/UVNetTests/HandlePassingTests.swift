// Handing TCP handles from one loop to another over an IPC pipe: a connection served elsewhere, a
// listener accepting elsewhere.
import Glibc
import Testing
import UVNet
import UVNetTestSupport

/// A socketpair: two connected Unix-domain descriptors.
func socketPair() -> (CInt, CInt) {
    var descriptors: [CInt] = [-1, -1]
    socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &descriptors)
    return (descriptors[0], descriptors[1])
}

/// Runs `serve` on the loop of a one-loop group with that loop's end of an IPC pipe; the test's loop
/// gets the other end.
private func withWorkerLoop<Result>(
    _ serve: @escaping @Sendable (UnixConnection) async throws -> Void, _ body: (Loop, UnixConnection) throws -> Result
) throws -> Result {
    let group = try LoopGroup(loopCount: 1)
    defer { group.shutdown() }
    let (here, there) = socketPair()
    let worker = group.loops[0]
    try worker.execute {
        Task(executorPreference: worker.taskExecutor) {
            let channel = try UnixConnection(adopting: there, on: worker, ipc: true)
            try await serve(channel)
            await channel.close()
        }
    }
    return try withLoop { loop in
        let channel = try UnixConnection(adopting: here, on: loop, ipc: true)
        defer { channel.close() }
        return try body(loop, channel)
    }
}

@Suite("Handle passing")
struct HandlePassingTests {
    @Test("a TCP connection accepted on one loop is served on another: bytes both ways, half-close honoured")
    func connectionServedElsewhere() throws {
        let payload = pattern(count: 200_000, seed: 4)
        let echoed = try withWorkerLoop({ channel in
            for try await case .connection(let connection) in channel.receivedHandles() {
                for try await chunk in connection.inbound() { try await connection.write(chunk) }
                try await connection.shutdown()  // after the client's half-close: the echo is all there
                await connection.close()
                return
            }
        }) { loop, channel in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            return try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                try await channel.send(server)
                await server.close()  // the worker has its own copy now
                try await client.write(payload)
                try await client.shutdown()
                let echoed = try await readAll(client)
                for handle in [client, listener] as [Handle] { await handle.close() }
                return echoed
            }
        }
        #expect(echoed == payload)
    }

    @Test("a listening socket sent to another loop accepts there")
    func listenerAcceptsElsewhere() throws {
        let reply = try withWorkerLoop({ channel in
            for try await case .listener(let listener) in channel.receivedHandles() {
                var connections = listener.connections.makeAsyncIterator()
                if let connection = try await connections.next() {
                    try await connection.write("served by the worker")
                    try await connection.shutdown()
                    await connection.close()
                }
                await listener.close()
                return
            }
        }) { loop, channel in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let address = try listener.localAddress
            return try loop.run {
                try await channel.send(listener)
                await listener.close()  // only the worker accepts now
                return try await TCPConnection.withConnection(to: address, on: loop) { try await readAll($0) }
            }
        }
        #expect(String(decoding: reply, as: UTF8.self) == "served by the worker")
    }

    @Test("sending a handle over a pipe that is not an IPC pipe is an error, not a crash")
    func notIPC() throws {
        try withLoop { loop in
            let (one, other) = socketPair()
            let pipe = try UnixConnection(adopting: one, on: loop)
            let peer = try UnixConnection(adopting: other, on: loop)
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            var result: Result<Void, UVError>?
            pipe.send(listener) { result = $0 }
            #expect(throws: UVError.invalidArgument) { try result?.get() }
            for handle in [pipe, peer, listener] as [Handle] { handle.close() }
        }
    }

    @Test("a TCP connection accepted in this process is served by another process: both ways, half-close honoured")
    func connectionServedByAnotherProcess() async throws {
        let path = handoffPath(for: getpid())
        unlink(path)
        defer { unlink(path) }
        let payload = pattern(count: 300_000, seed: 8)
        let group = try await LoopGroup(loopCount: 1)
        let loop = group.loops[0]
        // This process: accepts the child's IPC pipe, then a TCP client's connection, and hands that over.
        let control = try await Task(executorPreference: loop.taskExecutor) {
            try UnixListener(on: loop, path: path, ipc: true)
        }.value
        let work = Task(executorPreference: loop.taskExecutor) { () async throws -> [UInt8] in
            var pipes = control.connections.makeAsyncIterator()
            guard let channel = try await pipes.next() else { throw UVError.canceled }
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (client, server) = try await connectedPair(through: listener, on: loop)
            try await channel.send(server)
            await server.close()
            try await client.write(payload)
            try await client.shutdown()
            let echoed = try await readAll(client)
            for handle in [client, listener, channel, control] as [Handle] { await handle.close() }
            return echoed
        }
        // The other process: connects to the IPC socket, serves the connection it is given, exits 0.
        await #expect(processExitsWith: .success) { try serveHandedConnection(at: handoffPath(for: getppid())) }
        let result = try await work.value
        await group.shutdown()
        #expect(result == payload)
    }
}

/// Where the test's IPC socket lives, named after the process that listens on it.
private func handoffPath(for processID: pid_t) -> String {
    "/tmp/uvnet-handoff-\(processID).sock"
}

/// The child process's part: takes one TCP connection over the IPC socket and echoes it until EOF.
private func serveHandedConnection(at path: String) throws {
    alarm(20)
    let loop = try Loop()
    try loop.run {
        let channel = try await UnixConnection.connect(to: path, on: loop, ipc: true)
        for try await case .connection(let connection) in channel.receivedHandles() {
            for try await chunk in connection.inbound() { try await connection.write(chunk) }
            try await connection.shutdown()
            await connection.close()
            break
        }
        await channel.close()
    }
    try loop.close()
}
