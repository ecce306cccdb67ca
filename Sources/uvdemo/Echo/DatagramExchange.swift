// Request and reply over UDP: send one datagram, wait for its answer or a timeout, then the next.
import UVNet

/// Sends each message to a connected peer in turn and hands over the reply, or says it timed out.
/// UDP may drop either datagram, so every request gets its own deadline.
final class DatagramExchange {
    private let socket: UDPSocket
    private let timer: Timer
    private let timeout: Duration
    private var messages: [[UInt8]] = []
    /// The message waiting for its reply.
    private var index = -1
    private var onReply: (Int, UnsafeRawBufferPointer) -> Void = { _, _ in }
    private var onTimeout: (Int) -> Void = { _ in }
    private var onDone: () -> Void = {}
    private(set) var failure: UVError?

    /// Resolves `host` and connects a UDP socket to it (a connected socket hears only from that peer,
    /// and learns of a closed port as `.connectionRefused`).
    static func open(
        host: String, port: Int, timeout: Duration, on loop: Loop,
        _ completion: @escaping (Result<DatagramExchange, UVError>) -> Void
    ) {
        Resolver.resolve(host: host, service: "\(port)", socketType: .datagram, on: loop) { resolved in
            completion(
                resolved.flatMap { addresses in
                    Result { () throws(UVError) in
                        guard let peer = addresses.first else { throw UVError.noAddress.during("resolve", target: host) }
                        let socket = try UDPSocket(on: loop)
                        do throws(UVError) {
                            try socket.connect(to: peer)
                            return DatagramExchange(socket: socket, timer: try Timer(on: loop), timeout: timeout)
                        } catch {
                            socket.close()
                            throw error
                        }
                    }
                })
        }
    }

    private init(socket: UDPSocket, timer: Timer, timeout: Duration) {
        self.socket = socket
        self.timer = timer
        self.timeout = timeout
    }

    /// Sends `messages` one by one; `reply` gets each answer (by message index), `timedOut` each message
    /// that got none in time, `done` the end. Closes the socket when done or on an error (kept in `failure`).
    func run(
        _ messages: [[UInt8]], reply: @escaping (Int, UnsafeRawBufferPointer) -> Void,
        timedOut: @escaping (Int) -> Void, done: @escaping () -> Void
    ) {
        self.messages = messages
        onReply = reply
        onTimeout = timedOut
        onDone = done
        socket.startReceiving { [unowned self] received in
            switch received {
            case .success(let datagram):
                guard timer.isActive else { return }  // a late answer to a request already given up on
                timer.stop()
                onReply(index, datagram.bytes)
                sendNext()
            case .failure(let error):
                fail(error)
            }
        }
        sendNext()
    }

    private func sendNext() {
        index += 1
        guard index < messages.count else { return finish() }
        socket.send(messages[index]) { [unowned self] sent in
            if case .failure(let error) = sent { fail(error) }
        }
        timer.start(after: timeout) { [unowned self] in
            onTimeout(index)
            sendNext()
        }
    }

    private func fail(_ error: UVError) {
        failure = error
        finish()
    }

    private func finish() {
        guard socket.state == .open else { return }
        timer.close()
        socket.close()
        onDone()
    }
}
