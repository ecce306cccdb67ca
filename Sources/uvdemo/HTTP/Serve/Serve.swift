// A small static-file HTTP/1.1 server on UVNet: what fetch and the tour fetch from, and a target for wrk.
import ArgumentParser
import UVNet
import UVNetTLS

struct Serve: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo serve --root . --port 8080",
        "uvdemo serve --root /srv/www --host ::1 --port 0 --verbose",
        "uvdemo serve --root . --port 8443 --tls-cert cert.pem --tls-key key.pem",
    ]

    static let configuration = CommandConfiguration(
        abstract: "Serve the files under a directory over HTTP/1.1 (GET and HEAD, keep-alive), or HTTPS.",
        discussion: """
            Paths are confined to --root: '..' segments (plain or percent-encoded) are refused, and links \
            leading out of the root are not followed. A directory is served by its index.html. SIGINT or \
            SIGTERM stops accepting and lets responses in progress finish. A single byte range \
            (Range: bytes=…) is answered with 206, or 416 past the end. With --tls-cert and --tls-key it \
            serves HTTPS (ALPN http/1.1); a client that has not finished its handshake within 10 s is closed.
            """)

    @Option(help: "Directory to serve.") var root = "."
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port = 8080
    @Flag(help: "Log every request to stderr.") var verbose = false
    @OptionGroup var tls: TLSServerOptions
    @OptionGroup var threadPool: ThreadPoolOption

    func run() throws {
        threadPool.apply()
        let files = try StaticFiles(root: root)
        let context = try tls.context(applicationProtocols: ["http/1.1"])
        let address = try DemoFailure.address(host: host, port: port)
        let loop = try Loop()
        let listener = try TCPListener(on: loop, address: address)
        let open = OpenConnections(on: loop)
        let console = Console.standard
        try GracefulShutdown(on: loop, stopAccepting: { listener.close() }, finish: { open.endReadingAll() })
        console.listening(on: try listener.localAddress)
        let service = FileService(files: files, verbose: verbose, console: console, on: loop)
        let source: any ConnectionSource = context.map { TLSListener(listener, context: $0) } ?? listener
        try loop.run { await service.serve(source, open) }
        try loop.close()
    }
}
