// The seeds' echo servers: every byte a TCP client sends, and every datagram, comes back to its sender.
import ArgumentParser
import UVNet

struct EchoServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo-server", abstract: "Echo every byte (or datagram) back to whoever sent it.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 9000
    @Flag var transport: Transport = .tcp
    @Option(help: "TCP: serve with the callback API or with async/await.") var api: API = .callback
    @Option(help: "TCP: loops (threads) serving the port together, through SO_REUSEPORT.") var loops = 1
    @Flag(help: "TCP: echo line by line, each line in upper case (line framing).") var lines = false
    @Option(help: "TCP: serve only clients that answer an HMAC-SHA256 challenge with this shared key.")
    var secret: String?
    @Flag(help: "Log connects and disconnects to stderr.") var verbose = false

    enum API: String, ExpressibleByArgument, CaseIterable {
        case callback, async
    }

    func validate() throws {
        guard (1...256).contains(loops) else { throw ValidationError("--loops must be in 1...256") }
        guard loops == 1 || transport == .tcp else { throw ValidationError("--loops is for TCP") }
        guard !lines || transport == .tcp else { throw ValidationError("--lines is for TCP") }
        guard secret == nil || transport == .tcp else { throw ValidationError("--secret is for TCP") }
        guard secret == nil || !lines else { throw ValidationError("--secret and --lines do not combine") }
        guard secret?.isEmpty != true else { throw ValidationError("--secret must not be empty") }
    }

    func run() throws {
        let address = try DemoFailure.address(host: host, port: port)
        if loops > 1 {
            return try GroupEchoServer.serve(
                loopCount: loops, at: address, api: api, lines: lines, secret: secret, verbose: verbose)
        }
        let loop = try Loop()
        switch (transport, api) {
        case (.tcp, .callback): try serveTCP(on: loop, at: address)
        case (.tcp, .async): try AsyncEchoService.serve(on: loop, at: address, lines: lines, secret: secret, verbose: verbose)
        case (.udp, _): try serveUDP(on: loop, at: address)
        }
        loop.run()
        try loop.close()
    }

    private func serveTCP(on loop: Loop, at address: SocketAddress) throws(UVError) {
        let server = TCPEchoService(lines: lines, secret: secret, verbose: verbose)
        let listener = try TCPListener(on: loop, address: address) { server.accepted($0) }
        try GracefulShutdown.onSignals(on: loop, stopAccepting: { listener.close() }, finish: { server.finish() })
        // Last, so that whoever waits for this line may signal us at once.
        Output.listening(on: try listener.localAddress)
    }

    private func serveUDP(on loop: Loop, at address: SocketAddress) throws(UVError) {
        let socket = try UDPSocket(on: loop)
        try socket.bind(to: address)
        socket.startReceiving { received in
            switch received {
            case .success(let datagram):
                socket.send(datagram.bytes, to: datagram.sender) { sent in
                    if case .failure(let error) = sent { Output.error("\(error)") }
                }
            case .failure(let error):
                Output.error("\(error)")  // one bad datagram; the server goes on
            }
        }
        try GracefulShutdown.onSignals(on: loop, stopAccepting: { socket.close() })
        Output.listening(on: try socket.localAddress)
    }
}

/// Echoes on every accepted connection, and keeps them to finish them on shutdown.
final class TCPEchoService {
    /// A client that sends faster than it reads is paused above this many queued bytes.
    static let highWatermark = 1 << 20
    private let lines: Bool
    private let secret: String?
    private let verbose: Bool
    private var connections: [ObjectIdentifier: TCPConnection] = [:]

    init(lines: Bool, secret: String?, verbose: Bool) {
        self.lines = lines
        self.secret = secret
        self.verbose = verbose
    }

    func accepted(_ result: TCPListener.AcceptResult) {
        switch result {
        case .success(let connection):
            connections[ObjectIdentifier(connection)] = connection
            if verbose { Output.log("connected: \((try? connection.remoteAddress)?.description ?? "?")") }
            if lines {
                LineEcho.serve(connection) { [weak self] in self?.forget(connection) }
            } else if let secret {
                Authentication.challenge(connection, secret: secret) { [weak self] afterAnswer in
                    connection.write(afterAnswer)
                    self?.echo(on: connection)
                } rejected: { [weak self] in
                    self?.forget(connection)
                }
            } else {
                echo(on: connection)
            }
        case .failure(let error):
            Output.error("\(error)")
        }
    }

    private func echo(on connection: TCPConnection) {
        // Strong captures: the service outlives its connections, and a connection drops its handlers
        // when it closes, so no cycle lasts. (A weak capture costs a side-table load on every read.)
        connection.startReading { [self] chunk in
            switch chunk {
            case .success(let bytes):
                guard connection.writeQueueSize + bytes.count > TCPEchoService.highWatermark else {
                    return connection.write(bytes)
                }
                // The client is not reading its echo: stop reading until what is queued has gone out.
                connection.stopReading()
                connection.write(bytes) { [self] result in
                    if case .success = result, connection.state == .open { echo(on: connection) }
                }
            case .failure(let error):
                // A client that resets is that client's business: logged with --verbose only.
                if error != .eof && (verbose || error != .connectionReset) { Output.error("\(error)") }
                finish(connection)
            }
        }
    }

    /// Sends what is queued, half-closes, then closes.
    private func finish(_ connection: TCPConnection) {
        connection.shutdown { _ in connection.close() }
        forget(connection)
    }

    private func forget(_ connection: TCPConnection) {
        if connections.removeValue(forKey: ObjectIdentifier(connection)) != nil, verbose {
            Output.log("disconnected: \((try? connection.remoteAddress)?.description ?? "?")")
        }
    }

    /// Finishes every connection (graceful shutdown).
    func finish() {
        for connection in connections.values { finish(connection) }
    }
}
