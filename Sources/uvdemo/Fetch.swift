// The seeds' URL fetchers (a raw GET with a half-close, and urlretrieve) as one tool: an HTTP/1.x
// client on UVNet that follows redirects and saves atomically.
import ArgumentParser
import UVNet

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch an http:// URL: the body to stdout, or saved to a file.",
        discussion: """
            Exit codes: 0 for a 2xx response; 1 for an HTTP error status (the body is shown or saved only \
            with --include); 2 for a bad URL or usage; 3 for a network or protocol failure. With -o the \
            body goes to a temporary file beside FILE, renamed over it only once complete.
            """)

    @Argument(help: "The http:// URL to fetch.") var url: String
    @Option(name: [.short, .customLong("output")], help: "Save the body to FILE instead of printing it.")
    var output: String?
    @Option(help: "Seconds to wait for the connection, and for each read.") var timeout: Double = 30
    @Option(help: "Redirects to follow (301, 302, 303, 307, 308).") var maxRedirects = 10
    @Flag(name: .customLong("http1.0"), help: "Send an HTTP/1.0 request and half-close, as the seeds do.")
    var http1_0 = false
    @Flag(name: .shortAndLong, help: "Print the status line and header fields before the body.") var include = false
    @Flag(name: .shortAndLong, help: "Log each connection, request and redirect to stderr.") var verbose = false

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
        guard (0...100).contains(maxRedirects) else { throw ValidationError("--max-redirects must be in 0...100") }
    }

    func run() throws {
        let start: HTTPURL
        do {
            start = try HTTPURL(url)
        } catch {
            throw DemoFailure.usage("\(error)")
        }
        if let output { try AtomicFile.checkDirectory(of: output) }
        let client = HTTPClient(
            timeout: .milliseconds(Int(timeout * 1000)), maxRedirects: maxRedirects,
            version: http1_0 ? .http1_0 : .http1_1, include: include, verbose: verbose)
        let loop = try Loop()
        let output = output
        do {
            try loop.run {
                // SIGINT or SIGTERM cancels the fetch, so a partial download is removed like any failure.
                let fetch = Task(executorPreference: loop.taskExecutor) { try await client.fetch(start, to: output, on: loop) }
                let signals = try [Signal.Number.interrupt, .terminate].map { number in
                    try Signal(number, on: loop) { fetch.cancel() }
                }
                defer { signals.forEach { $0.close() } }
                try await fetch.value
            }
        } catch is CancellationError {
            throw DemoFailure(message: "interrupted; nothing was saved", exitCode: DemoFailure.networkFailure)
        }
        try loop.close()
    }
}
