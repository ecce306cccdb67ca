// Sending messages to a server and printing what it answers, over TCP (TLS on it if asked) or UDP:
// what the echo and time clients have in common.
import UVNet
import UVNetTLS

struct ExchangeClient {
    let host: String
    let port: Int
    let transport: Transport
    let timeout: Double
    let console: Console
    /// The shared key for the echo server's challenge (`--secret`), if any.
    var secret: String? = nil
    /// A Unix-domain socket to talk to instead of host and port (`--unix`).
    var unixPath: String? = nil
    /// Speak TLS over the stream, trusting as this client context says (`--tls`).
    var tls: TLSContext? = nil

    /// TCP: sends each message and a newline, half-closes, prints everything until the server's EOF.
    /// UDP: sends each message as a datagram and prints each reply on a line of its own.
    func run(_ messages: [String]) throws {
        let loop = try Loop()
        var failure: DemoFailure?
        switch transport {
        case .tcp: exchangeOverTCP(messages.map { $0 + "\n" }, on: loop) { failure = $0 }
        case .udp: exchangeOverUDP(messages, on: loop) { failure = $0 }
        }
        loop.run()
        try loop.close()
        if let failure { throw failure }
    }

    private func exchangeOverTCP(_ lines: [String], on loop: Loop, failed: @escaping (DemoFailure) -> Void) {
        connect(on: loop) { connected in
            let transport: StreamConnection
            switch connected {
            case .success(let open): transport = open
            case .failure(let error): return failed(.network(error))
            }
            guard let tls else { return exchange(lines, over: transport, failed: failed) }
            // The server's certificate is checked for --host (over --unix too: it names the server).
            TLSConnection.secure(transport, serverName: host, context: tls) { secured in
                switch secured {
                case .success(let connection): exchange(lines, over: connection, failed: failed)
                case .failure(let error): failed(.network(error))
                }
            }
        }
    }

    /// Sends `lines` and half-closes (after the challenge, with a secret) while printing the echo.
    private func exchange(_ lines: [String], over connection: some ByteStream, failed: @escaping (DemoFailure) -> Void) {
        let send = {
            for line in lines { connection.write(line) }
            connection.shutdown { result in
                if case .failure(let error) = result { failed(.network(error)) }
            }
        }
        guard let secret else {
            printEcho(of: connection, failed: failed)
            return send()
        }
        answerChallenge(on: connection, secret: secret, failed: failed) { afterChallenge in
            printEcho(of: connection, startingWith: afterChallenge, expectingSome: !lines.isEmpty, failed: failed)
            send()
        }
    }

    /// Connects to the Unix-domain socket when one is named, else resolves the host and connects over TCP.
    private func connect(on loop: Loop, _ completion: @escaping (Result<StreamConnection, UVError>) -> Void) {
        guard let unixPath else {
            TCPConnection.connect(host: host, port: port, on: loop) { completion($0.map { $0 }) }
            return
        }
        do throws(UVError) {
            let connection = try UnixConnection(on: loop)
            do throws(UVError) {
                try connection.connect(to: unixPath) { result in
                    if case .failure = result { connection.close() }
                    completion(result.map { connection })
                }
            } catch {
                connection.close()
                throw error
            }
        } catch {
            completion(.failure(error))
        }
    }

    /// Prints everything the server sends until its EOF. With `expectingSome`, an EOF before any byte
    /// means the server refused the client's answer to its challenge.
    private func printEcho(
        of connection: some ByteStream, startingWith first: [UInt8] = [], expectingSome: Bool = false,
        failed: @escaping (DemoFailure) -> Void
    ) {
        var received = first.count
        first.withUnsafeBytes { console.write($0) }
        connection.startReading { chunk in
            switch chunk {
            case .success(let bytes):
                received += bytes.count
                console.write(bytes)
            case .failure(let error):
                // A server that refuses the answer closes; if our message had already reached it, unread,
                // its kernel answers with a reset instead of a FIN. Either way, before any echo: refused.
                let error = error as any Error
                if expectingSome && received == 0 && (error.isEndOfStream || error.isAbruptDeparture) {
                    failed(DemoFailure(message: "authentication failed: the server closed the connection",
                                       exitCode: DemoFailure.remoteRefused))
                } else if !error.isEndOfStream {
                    failed(.network(error))
                }
                connection.close()
            }
        }
    }

    /// Reads the server's 32-byte challenge (waiting at most `timeout`), answers it, and passes on
    /// whatever came after the challenge.
    private func answerChallenge(
        on connection: some ByteStream, secret: String, failed: @escaping (DemoFailure) -> Void,
        then: @escaping ([UInt8]) -> Void
    ) {
        var challenge: [UInt8] = []
        let deadline = try? Timer(on: connection.loop)
        deadline?.start(after: .seconds(timeout)) {
            deadline?.close()
            failed(DemoFailure(message: "no challenge from \(serverName) within \(timeout) s (does the server use --secret?)",
                               exitCode: DemoFailure.networkFailure))
            connection.close()
        }
        connection.startReading { chunk in
            guard case .success(let bytes) = chunk else {
                deadline?.close()
                failed(DemoFailure(message: "the server closed the connection before its challenge",
                                   exitCode: DemoFailure.networkFailure))
                return connection.close()
            }
            challenge += bytes
            guard challenge.count >= Authentication.challengeLength else { return }
            deadline?.close()
            connection.stopReading()
            let answer = Authentication.answer(to: Array(challenge.prefix(Authentication.challengeLength)), secret: secret)
            connection.write(answer)
            then(Array(challenge.dropFirst(Authentication.challengeLength)))
        }
    }

    private func exchangeOverUDP(_ lines: [String], on loop: Loop, failed: @escaping (DemoFailure) -> Void) {
        DatagramExchange.open(host: host, port: port, timeout: .seconds(timeout), on: loop) { opened in
            let exchange: DatagramExchange
            switch opened {
            case .success(let open): exchange = open
            case .failure(let error): return failed(.network(error))
            }
            var timedOut: [Int] = []
            exchange.run(lines.map { Array($0.utf8) }) { _, reply in
                console.write(reply)
                console.write("\n")
            } timedOut: { index in
                timedOut.append(index)
                console.error("no reply to message \(index + 1) ('\(lines[index])') within \(timeout) s")
            } done: {
                if let error = exchange.failure {
                    failed(.network(error))
                } else if !timedOut.isEmpty {
                    failed(DemoFailure(message: "\(timedOut.count) of \(lines.count) messages got no reply",
                                       exitCode: DemoFailure.networkFailure))
                }
            }
        }
    }

    /// The server as error messages name it.
    private var serverName: String {
        unixPath.map { "unix:\($0)" } ?? "\(host):\(port)"
    }
}
