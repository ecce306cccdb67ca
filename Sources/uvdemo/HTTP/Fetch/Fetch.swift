// The seeds' URL fetchers (a raw GET with a half-close, and urlretrieve) as a tool people keep: an
// HTTP/1.x client on UVNet, https:// included, with curl's everyday flags (-o, -O, -C -, --retry, -H,
// -X HEAD, --max-time, -s, --cacert, -k).
import ArgumentParser
import Glibc
import UVNet

struct Fetch: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo fetch http://localhost:8080/README.md",
        "uvdemo fetch -O -C - --retry 3 http://localhost:8080/big.iso",
        "uvdemo fetch --cacert ca.pem https://localhost:8443/README.md",
    ]

    static let configuration = CommandConfiguration(
        abstract: "Fetch an http:// or https:// URL: the body to stdout, or saved to a file.",
        discussion: """
            Exit codes: 0 for a 2xx response; 1 for an HTTP error status (the body is shown or saved only \
            with --include); 2 for a bad URL or usage; 3 for a network or protocol failure. With -o or -O \
            the body goes to a temporary file beside FILE, renamed over it only once complete; with -C - it \
            goes straight into FILE, resuming where a partial FILE ends (a server that ignores the range \
            sends everything, and FILE starts over). --retry tries again after connect failures, timeouts, \
            408, 429 and 5xx (never other 4xx), waiting --retry-delay, then twice as long each time, or what \
            Retry-After says. https:// verifies the server's certificate against the system's trust store \
            (or --cacert) and its host name; a server that ends the connection without TLS's close_notify \
            before the body's end is a failure (exit 3), never a short file.
            """)

    @Argument(help: "The http:// or https:// URL to fetch.") var url: String
    @Option(name: [.short, .customLong("output")], help: "Save the body to FILE instead of printing it.")
    var output: String?
    @Flag(name: [.customShort("O"), .customLong("remote-name")], help: "Save under the URL's last path segment.")
    var remoteName = false
    @Option(name: [.customShort("C"), .customLong("continue-at")], help: "'-': resume a partial file (with -o or -O).")
    var continueAt: String?
    @Flag(name: .customLong("continue"), help: "The same as -C -.") var resume = false
    @Option(help: "Seconds to wait for the connection, and for each read.") var timeout: Double = 30
    @Option(help: "Seconds the whole transfer may take, retries included.") var maxTime: Double?
    @Option(help: "Redirects to follow (301, 302, 303, 307, 308).") var maxRedirects = 10
    @Option(help: "Times to try again after a failure that may pass.") var retry = 0
    @Option(help: "Seconds before the first retry (each next waits twice as long).") var retryDelay: Double = 1
    @Option(name: [.customShort("H"), .customLong("header")], help: "An extra request header, 'Name: value'.")
    var headers: [String] = []
    @Option(name: [.customShort("X"), .customLong("request")], help: "The method: GET, or HEAD (the head is printed).")
    var method = "GET"
    @Flag(name: .customLong("http1.0"), help: "Send an HTTP/1.0 request and half-close, as the seeds do.")
    var http1_0 = false
    @Flag(name: .shortAndLong, help: "Print the status line and header fields before the body.") var include = false
    @Flag(name: .shortAndLong, help: "Log each connection, request and redirect to stderr.") var verbose = false
    @Flag(name: .shortAndLong, help: "No progress bar and no error line (the exit code still tells).") var silent = false
    @Flag(name: [.customShort("S"), .customLong("show-error")], help: "With -s, still print the error line.")
    var showError = false
    @OptionGroup var tls: TLSClientOptions

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
        guard maxTime.map({ $0 > 0 && $0 <= 86400 }) ?? true else { throw ValidationError("--max-time must be in (0, 86400] seconds") }
        guard (0...100).contains(maxRedirects) else { throw ValidationError("--max-redirects must be in 0...100") }
        guard (0...100).contains(retry) else { throw ValidationError("--retry must be in 0...100") }
        guard retryDelay >= 0, retryDelay <= 3600 else { throw ValidationError("--retry-delay must be in [0, 3600] seconds") }
        guard ["GET", "HEAD"].contains(method) else { throw ValidationError("-X: only GET and HEAD are supported") }
        guard output == nil || !remoteName else { throw ValidationError("-o and -O do not combine") }
        guard continueAt == nil || continueAt == "-" else { throw ValidationError("-C takes '-' (resume where the file ends)") }
        guard !isResuming || output != nil || remoteName else { throw ValidationError("-C - resumes a file: give -o FILE or -O") }
        for header in headers { _ = try HeaderField(parsing: header) }
    }

    private var isResuming: Bool { resume || continueAt == "-" }

    func run() throws {
        let start: HTTPURL
        do {
            start = try HTTPURL(url)
        } catch {
            throw DemoFailure.usage("\(error)")
        }
        let path = try remoteName ? Self.remoteName(of: start) : output
        if let path { try AtomicFile.checkDirectory(of: path) }
        let console = silent ? (showError ? Console.standard.withoutProgress : Console.standard.silenced) : Console.standard
        let client = HTTPClient(
            options: HTTPClient.Options(
                timeout: .seconds(timeout), maxRedirects: maxRedirects, version: http1_0 ? .http1_0 : .http1_1,
                method: method, headers: try headers.map { try HeaderField(parsing: $0) }, include: include || method == "HEAD",
                verbose: verbose && !silent, retries: retry, retryDelay: .seconds(retryDelay)),
            tls: try tls.context(applicationProtocols: ["http/1.1"]), console: console)
        let target: ResponseDestination.Target = path.map { isResuming ? .resumableFile($0) : .file($0) } ?? .standardOutput
        do {
            try FetchRun.run(client, start, into: target, maxTime: maxTime.map { .seconds($0) })
        } catch let failure as DemoFailure {
            // Printed here rather than by main, so that -s can keep it quiet.
            console.error(failure.message)
            throw failure.reported
        }
    }

    /// The name -O saves under: the URL's last path segment, decoded, when it is a plain file name.
    static func remoteName(of url: HTTPURL) throws(DemoFailure) -> String {
        let path = url.pathAndQuery.prefix { $0 != "?" }
        let segment = path.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        let name = StaticFiles.percentDecoded(segment).map { String(decoding: $0, as: UTF8.self) }
        guard let name, !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
            throw .usage("-O: the URL's last path segment '\(segment)' is not a file name to save under (use -o FILE)")
        }
        return name
    }
}

/// One fetch run on a loop of its own: the transfer as a task, canceled by SIGINT, SIGTERM or --max-time.
enum FetchRun {
    static func run(_ client: HTTPClient, _ url: HTTPURL, into target: ResponseDestination.Target, maxTime: Duration?) throws {
        let loop = try Loop()
        let outOfTime = LoopBound(false, on: loop)
        do {
            try loop.run {
                // A signal or the end of --max-time cancels the fetch, so a partial download is removed
                // (or kept to resume, with -C) like any failure.
                let fetch = Task(executorPreference: loop.taskExecutor) { try await client.fetch(url, into: target, on: loop) }
                let signals = try [Signal.Number.interrupt, .terminate].map { number in
                    try Signal(number, on: loop) { fetch.cancel() }
                }
                let deadline = try maxTime.map { limit in
                    try Timer.once(after: limit, on: loop) {
                        outOfTime.value = true
                        fetch.cancel()
                    }
                }
                defer {
                    signals.forEach { $0.close() }
                    deadline?.close()
                }
                try await fetch.value
            }
        } catch is CancellationError {
            let kept = target.keepsPartial ? "what arrived is kept, to resume" : "nothing was saved"
            let why = outOfTime.value ? "gave up after --max-time \(maxTime.map { "\($0)" } ?? "")" : "interrupted"
            throw DemoFailure(message: "\(why); \(kept)", exitCode: DemoFailure.networkFailure)
        }
        try loop.close()
    }
}

/// A request header field given with -H.
struct HeaderField: Sendable {
    let name: String
    let value: String

    /// Reads `Name: value`; a name that is not a token, or a value with a control character, is a usage error.
    init(parsing text: String) throws(DemoFailure) {
        guard let colon = text.firstIndex(of: ":") else { throw .usage("-H '\(text)': expected 'Name: value'") }
        let name = String(text[..<colon])
        let value = String(text[text.index(after: colon)...].trimmingASCIISpaces())
        guard !name.isEmpty, name.utf8.allSatisfy(\.isTokenByte) else {
            throw .usage("-H '\(text)': '\(name)' is not a header name")
        }
        guard !value.utf8.contains(where: { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }) else {
            throw .usage("-H '\(text)': the value has a control character")
        }
        self.name = name
        self.value = value
    }
}
