// Writing and half-closing a stream with async/await, built on the callback API: a write returns when
// the kernel has every byte; a write or shutdown that has begun goes through, canceled or not.
import CUV

extension StreamConnection {
    /// Writes `bytes`; returns when all of them are handed to the kernel (at once, without suspending,
    /// when the kernel takes them all). Throws the write error, `.timedOut` after `timeout`, or
    /// `CancellationError`. A write that times out or is canceled takes nothing back: the bytes already
    /// handed over stay queued and go out in order, and the connection stays usable (close it, or
    /// `closeWithReset()` it, to give up on a peer that does not read).
    public func write(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        if loop.isOnLoopThread && timeout == nil {
            switch bytes.withUnsafeBytes({ writeNow($0) }) {
            case .written:
                return
            case .failed(let error):
                throw error
            case .partly(let written):
                // The rest is queued now, before the task can be told it is canceled: a write that
                // has begun goes out whole.
                let queued = Awaited<Void>()
                bytes.withUnsafeBytes { enqueue(UnsafeRawBufferPointer(rebasing: $0[written...]), completion: queued.complete) }
                return try await queued.value(on: loop)
            }
        }
        try await suspendForWrite(of: bytes, timeout: timeout)
    }

    /// Makes a connection and starts its connect (both on the loop's thread, with `start`), then awaits
    /// the outcome. A failure, a timeout or cancellation closes the attempt at once; the error names
    /// `target`.
    static func connecting<Connection: StreamConnection>(
        on loop: Loop, timeout: Duration?, target: String,
        _ start: @escaping @Sendable () throws(UVError) -> (Connection, (@escaping Completion) throws(UVError) -> Void)
    ) async throws -> Connection {
        let attempt = LoopBound<Connection?>(nil, on: loop)
        return try await loop.suspend(
            timeout: timeout.map { Timeout($0, operation: "connect to", target: { target }, detail: "no answer within \($0)") },
            { wake in
                do {
                    let (connection, connect) = try start()
                    attempt.value = connection
                    try connect { result in
                        switch result {
                        case .success:
                            wake.resume(.success(connection))
                        case .failure(let error):
                            connection.close()
                            wake.resume(.failure(error))
                        }
                    }
                } catch {
                    attempt.value?.close()
                    wake.resume(.failure(error))
                }
            },
            abandon: { attempt.value?.close() })
    }
}
