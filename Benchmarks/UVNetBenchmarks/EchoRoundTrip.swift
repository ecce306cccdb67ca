// A client and an echo server on one loop in this thread: each round trip writes one message and runs
// the loop until all of it has come back.
import Glibc
import UVNet

final class EchoRoundTrip {
    enum ServerAPI: String, CaseIterable, CustomStringConvertible {
        case callback, async
        var description: String { rawValue }
    }

    private let loop: Loop
    private let listener: TCPListener
    private let client: TCPConnection
    private let message: [UInt8]
    private var received = 0

    init(size: Int, api: ServerAPI) throws {
        loop = try Loop()
        let loop = loop
        switch api {
        case .callback:
            listener = try TCPListener(on: loop, address: SocketAddress(ip: "127.0.0.1", port: 0)) { accepted in
                guard case .success(let connection) = accepted else { return }
                connection.startReading { chunk in
                    switch chunk {
                    case .success(let bytes): connection.write(bytes)
                    case .failure: connection.close()
                    }
                }
            }
        case .async:
            listener = try TCPListener(on: loop, address: SocketAddress(ip: "127.0.0.1", port: 0))
            let listener = listener
            Task(executorPreference: loop.taskExecutor) {
                for try await connection in listener.connections {
                    Task(executorPreference: loop.taskExecutor) {
                        for try await chunk in connection.inbound() { try await connection.write(chunk) }
                    }
                }
            }
        }
        var connected: TCPConnection?
        try TCPConnection(on: loop).connectAndKeep(to: listener.localAddress) { connected = $0 }
        while connected == nil { _ = loop.run(.once) }
        client = connected!
        message = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
        client.startReading { [unowned self] chunk in
            if case .success(let bytes) = chunk { received += bytes.count }
        }
        for _ in 0..<100 { roundTrip() }
    }

    func roundTrip() {
        received = 0
        message.withUnsafeBytes { client.write($0) }
        while received < message.count { _ = loop.run(.once) }
    }
}

extension TCPConnection {
    fileprivate func connectAndKeep(to address: SocketAddress, _ connected: @escaping (TCPConnection) -> Void) throws {
        try connect(to: address) { [self] result in
            if case .success = result { connected(self) }
        }
    }
}

/// A value made on first use, on the thread that runs the benchmarks: a loop and its handles belong to
/// the thread that made them, and the benchmark setup hooks run elsewhere.
final class MadeOnFirstUse<Value>: @unchecked Sendable {  // `value` checks it stays on the thread that made it
    private let make: () throws -> Value
    private var made: (value: Value, thread: pthread_t)?

    init(_ make: @escaping () throws -> Value) { self.make = make }

    var value: Value {
        if let made {
            precondition(pthread_equal(made.thread, pthread_self()) != 0, "a benchmark value used off the thread that made it")
            return made.value
        }
        let value = try! make()
        made = (value, pthread_self())
        return value
    }
}
