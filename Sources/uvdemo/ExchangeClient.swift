// Sending messages to a server and printing what it answers, over TCP or UDP: what the echo and
// time clients have in common.
import UVNet

struct ExchangeClient {
    let host: String
    let port: Int
    let transport: Transport
    let timeout: Double

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
        TCPConnection.connect(host: host, port: port, on: loop) { connected in
            let connection: TCPConnection
            switch connected {
            case .success(let open): connection = open
            case .failure(let error): return failed(.network(error))
            }
            connection.startReading { chunk in
                switch chunk {
                case .success(let bytes):
                    Output.write(bytes)
                case .failure(let error):
                    if error != .eof { failed(.network(error)) }
                    connection.close()
                }
            }
            for line in lines { connection.write(line) }
            connection.shutdown { result in
                if case .failure(let error) = result { failed(.network(error)) }
            }
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
                Output.write(reply)
                Output.write("\n")
            } timedOut: { index in
                timedOut.append(index)
                Output.error("no reply to message \(index + 1) ('\(lines[index])') within \(timeout) s")
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
}
