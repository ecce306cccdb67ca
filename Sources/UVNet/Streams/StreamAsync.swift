// Connecting a stream with async/await: the attempt is closed on every way out but success.
import CUV

extension StreamConnection {
    /// Makes a connection and starts its connect (both on the loop's thread, with `start`), then awaits the outcome. A
    /// failure, a timeout or cancellation closes the attempt at once; the error names `target`.
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
