// The time server's client: UDP sends each format and prints the time it gets; TCP sends lines and
// prints the timestamped echo.
import ArgumentParser
import UVNet

struct TimeClient: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo time-client --port 9001 '%H:%M'",
        "uvdemo time-client --tcp --port 9001 hello",
    ]

    static let configuration = CommandConfiguration(
        commandName: "time-client",
        abstract: "Ask a time server for the time.",
        discussion: """
            UDP: each FORMAT_OR_LINE is a strftime format (none: one empty request, the server's default). \
            TCP: each is a line (none: the lines of stdin).
            """)

    @Option(help: "Server host name or address.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 9001
    @Flag var transport: Transport = .udp
    @Option(help: "UDP: seconds to wait for each reply.") var timeout: Double = 2
    @Argument(help: "strftime formats (UDP) or lines (TCP).") var formatsOrLines: [String] = []

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("port \(port) is not in 0...65535") }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
    }

    func run() throws {
        let client = ExchangeClient(host: host, port: port, transport: transport, timeout: timeout, console: .standard)
        switch transport {
        case .udp: try client.run(formatsOrLines.isEmpty ? [""] : formatsOrLines)
        case .tcp: try client.run(formatsOrLines.isEmpty ? StandardInput.lines() : formatsOrLines)
        }
    }
}
