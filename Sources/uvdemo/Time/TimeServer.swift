// The seeds' time servers. UDP: each datagram is a strftime format, answered with the local time in it.
// TCP: each line is answered with `[<ctime-style timestamp>] <line>`.
import ArgumentParser
import UVNet

struct TimeServer: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo time-server --port 9001",
        "uvdemo time-server --tcp --port 9001 --verbose",
    ]

    static let configuration = CommandConfiguration(
        commandName: "time-server",
        abstract: "Tell the time: UDP answers a strftime format, TCP timestamps each line.",
        discussion: """
            UDP: an empty datagram means '\(LocalTime.defaultFormat)'; a format that is not UTF-8 or is \
            longer than \(LocalTime.maximumFormatLength) bytes is answered with a line starting 'error:'. \
            TCP: a line longer than \(TCPTimeService.maximumLine) bytes ends that connection.
            """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 9001
    @Flag var transport: Transport = .udp
    @Flag(help: "Log every request to stderr.") var verbose = false

    func run() throws {
        let address = try DemoFailure.address(host: host, port: port)
        let loop = try Loop()
        let console = Console.standard
        switch transport {
        case .udp: try serveUDP(on: loop, at: address, console: console)
        case .tcp: try serveTCP(on: loop, at: address, console: console)
        }
        loop.run()
        try loop.close()
    }

    private func serveUDP(on loop: Loop, at address: SocketAddress, console: Console) throws(UVError) {
        let socket = try UDPSocket(on: loop)
        try socket.bind(to: address)
        let verbose = verbose
        socket.startReceiving { received in
            guard case .success(let request) = received else { return }
            let reply: String
            switch LocalTime.formatted(request.bytes) {
            case .success(let time): reply = time
            case .failure(let error): reply = "error: \(error)"
            }
            if verbose { console.log("\(request.sender): \(reply)") }
            socket.send(reply, to: request.sender)
        }
        try GracefulShutdown(on: loop, stopAccepting: { socket.close() })
        console.listening(on: try socket.localAddress)
    }

    private func serveTCP(on loop: Loop, at address: SocketAddress, console: Console) throws(UVError) {
        let service = TCPTimeService()
        let listener = try TCPListener(on: loop, address: address) { service.accepted($0) }
        try GracefulShutdown(on: loop, stopAccepting: { listener.close() }, finish: { service.finish() })
        console.listening(on: try listener.localAddress)
    }
}

/// Timestamps every line on every connection.
final class TCPTimeService {
    static let maximumLine = 4096
    private var connections: [ObjectIdentifier: TCPConnection] = [:]

    func accepted(_ result: TCPListener.AcceptResult) {
        guard case .success(let connection) = result else { return }
        connections[ObjectIdentifier(connection)] = connection
        var lines = DelimiterFramer(maximumFrameLength: TCPTimeService.maximumLine)
        connection.startReading { [weak self] chunk in
            guard let self else { return connection.close() }
            switch chunk {
            case .success(let bytes):
                do {
                    try lines.feed(bytes) { line in
                        connection.write("[\(LocalTime.ctimeStyle())] \(String(decoding: line, as: UTF8.self))\n")
                    }
                } catch {
                    connection.write("error: \(error)\n")
                    finish(connection)
                }
            case .failure:
                finish(connection)
            }
        }
    }

    private func finish(_ connection: TCPConnection) {
        connection.stopReading()
        connection.shutdown { _ in connection.close() }
        connections.removeValue(forKey: ObjectIdentifier(connection))
    }

    func finish() {
        for connection in connections.values { finish(connection) }
    }
}
