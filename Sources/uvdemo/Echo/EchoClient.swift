// The seeds' echo clients: TCP sends messages, half-closes and prints the echo until the server's EOF;
// UDP sends each message as a datagram and prints each reply, or says which one timed out.
import ArgumentParser
import UVNet

struct EchoClient: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo echo-client --port 9000 hello world",
        "printf 'one\\ntwo\\n' | uvdemo echo-client --unix /tmp/echo.sock",
        "uvdemo echo-client --tls --cacert ca.pem --host localhost --port 9443 hello",
    ]

    static let configuration = CommandConfiguration(
        commandName: "echo-client",
        abstract: "Send messages to an echo server and print what comes back.",
        discussion: """
            TCP: each MESSAGE is sent followed by a newline (with none, each line of stdin is), then the \
            client half-closes and prints everything until the server's EOF. UDP: each MESSAGE (or stdin \
            line, without its newline) is one datagram; each reply is printed on a line of its own. \
            --unix talks to a server on a Unix-domain socket instead of host and port. --tls speaks TLS \
            over the stream, verifying the server's certificate for --host against the system's trust \
            store (or --cacert).
            """)

    @Option(help: "Server host name or address.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port = 9000
    @Option(help: "Talk to the server on this Unix-domain socket path instead.") var unix: String?
    @Flag var transport: Transport = .tcp
    @Option(help: "UDP: seconds to wait for each reply; TCP: for the server's challenge.") var timeout: Double = 2
    @Option(help: "TCP: answer the server's challenge with this shared key (see echo-server --secret).")
    var secret: String?
    @Flag(help: "Speak TLS to the server (see echo-server --tls-cert).") var tls = false
    @OptionGroup var trust: TLSClientOptions
    @Argument(help: "Messages to send.") var messages: [String] = []

    func validate() throws {
        guard secret == nil || transport == .tcp else { throw ValidationError("--secret is for TCP") }
        guard unix == nil || transport == .tcp else { throw ValidationError("--unix is for streams, not --udp") }
        guard !tls || transport == .tcp else { throw ValidationError("--tls is for streams, not --udp") }
        guard tls || !trust.isGiven else { throw ValidationError("--cacert, --insecure and --cert go with --tls") }
        guard (0...65535).contains(port) else { throw ValidationError("port \(port) is not in 0...65535") }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
    }

    func run() throws {
        var client = ExchangeClient(host: host, port: port, transport: transport, timeout: timeout, console: .standard)
        client.secret = secret
        client.unixPath = unix
        client.tls = tls ? try trust.context() : nil
        try client.run(messages.isEmpty ? StandardInput.lines() : messages)
    }
}
