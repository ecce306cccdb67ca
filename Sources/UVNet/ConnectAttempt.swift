// A connect by host name under way: the resolution, then one address after another, cancellable at once.
import CUV

/// What `TCPConnection.connect(host:port:on:_:)` returns: hold it only to `cancel()` the connect.
/// Canceling stops whatever is under way at once (the resolution, or the attempt in flight, whose
/// socket is closed) and completes the connect with `.canceled`.
public final class ConnectAttempt: @unchecked Sendable {  // every member checks the loop's thread
    /// The loop the connect runs on.
    public let loop: Loop
    private let host: String
    private let port: Int
    private var completion: ((Result<TCPConnection, UVError>) -> Void)?
    private var resolving: Resolver.Request?
    private var connection: TCPConnection?

    init(host: String, port: Int, on loop: Loop, _ completion: @escaping (Result<TCPConnection, UVError>) -> Void) {
        self.loop = loop
        self.host = host
        self.port = port
        self.completion = completion
    }

    /// True once the completion has run.
    public var isFinished: Bool {
        loop.checkOnLoopThread("ConnectAttempt.isFinished")
        return completion == nil
    }

    /// Stops the connect and completes it with `.canceled`; does nothing once it has completed.
    /// The corresponding C functions are `uv_cancel` (for the resolution) and `uv_close`.
    public func cancel() {
        loop.checkOnLoopThread("ConnectAttempt.cancel()")
        guard completion != nil else { return }
        // A resolution already running on the thread pool cannot be stopped: its answer is ignored.
        resolving?.cancel()
        connection?.close()
        finish(.failure(UVError.canceled.during("connect to", target: "\(host):\(port)")))
    }

    func start() {
        loop.checkOnLoopThread("TCPConnection.connect(host:port:on:_:)")
        resolving = Resolver.resolve(host: host, service: "\(port)", on: loop) { [self] resolved in
            resolving = nil
            guard completion != nil else { return }
            switch resolved {
            case .success(let addresses): connect(toFirstOf: addresses[...], lastError: nil)
            case .failure(let error): finish(.failure(error))
            }
        }
    }

    private func connect(toFirstOf addresses: ArraySlice<SocketAddress>, lastError: UVError?) {
        guard let address = addresses.first else {
            return finish(.failure(lastError ?? UVError.noAddress.during("connect to", target: host)))
        }
        let tryNext = { [self] (error: UVError) in
            connection = nil
            guard completion != nil else { return }
            connect(toFirstOf: addresses.dropFirst(), lastError: error)
        }
        do {
            let connection = try TCPConnection(on: loop)
            self.connection = connection
            do {
                try connection.connect(to: address) { [self] result in
                    switch result {
                    case .success:
                        self.connection = nil
                        finish(.success(connection))
                    case .failure(let error):
                        connection.close { tryNext(error) }
                    }
                }
            } catch {
                connection.close { tryNext(error) }
            }
        } catch {
            finish(.failure(error))
        }
    }

    private func finish(_ result: Result<TCPConnection, UVError>) {
        guard let completion else {
            if case .success(let connection) = result { connection.close() }
            return
        }
        self.completion = nil
        completion(result)
    }
}
