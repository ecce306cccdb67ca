// The seeds' TCP echo client: send messages, print what comes back, half-close, wait for the server's EOF.
import ArgumentParser
import UVNet

struct EchoClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-client",
        abstract: "Send messages to an echo server and print what comes back.",
        discussion: "Each MESSAGE is sent followed by a newline; with none, each line of stdin is.")

    @Option(help: "Server address.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 9000
    @Argument(help: "Messages to send.") var messages: [String] = []

    func run() throws {
        let address = try DemoFailure.address(host: host, port: port)
        let lines = messages.isEmpty ? Array(sequence(state: (), next: { _ in readLine(strippingNewline: false) })) : messages.map { $0 + "\n" }
        let loop = try Loop()
        var failure: UVError?
        let connection = try TCPConnection(on: loop)
        try connection.connect(to: address) { result in
            if case .failure(let error) = result {
                failure = error
                return connection.close()
            }
            connection.startReading { chunk in
                switch chunk {
                case .success(let bytes):
                    Output.write(bytes)
                case .failure(let error):
                    if error != .eof { failure = error }
                    connection.close()
                }
            }
            for line in lines { connection.write(line) }
            connection.shutdown { result in
                if case .failure(let error) = result { failure = error }
            }
        }
        loop.run()
        try loop.close()
        if let failure { throw DemoFailure.network(failure) }
    }
}
