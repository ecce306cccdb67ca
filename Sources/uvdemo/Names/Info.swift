// The seeds' "Connected from … / Connected to …" program: resolve, connect, show both ends, exit.
import ArgumentParser
import UVNet

struct Info: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo info localhost 9000",
        "uvdemo info 127.0.0.1 http",
    ]

    static let configuration = CommandConfiguration(
        abstract: "Connect to HOST PORT_OR_SERVICE and print the local and remote address.",
        discussion: """
            The host's IPv6 and IPv4 addresses are raced (Happy Eyeballs); the first to accept wins.
            """)

    @Argument(help: "Host name or address.") var host: String
    @Argument(help: "Port number or service name, e.g. 80 or http.") var portOrService: String

    func run() throws {
        let port: Int
        do {
            port = try Resolver.port(ofService: portOrService)
        } catch {
            throw DemoFailure.usage("\(error)")
        }
        let loop = try Loop()
        let console = Console.standard
        var outcome: Result<Void, DemoFailure> = .success(())
        TCPConnection.connect(host: host, port: port, on: loop) { connected in
            switch connected {
            case .success(let connection):
                do throws(UVError) {
                    console.write("Connected from \(try connection.localAddress)\n")
                    console.write("Connected to \(try connection.remoteAddress)\n")
                } catch {
                    outcome = .failure(.network(error))
                }
                connection.close()
            case .failure(let error):
                outcome = .failure(.network(error))
            }
        }
        loop.run()
        try loop.close()
        try outcome.get()
    }
}
