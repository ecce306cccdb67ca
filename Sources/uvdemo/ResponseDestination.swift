// Where a fetched response goes: stdout, or a file replaced atomically; with a progress bar on a
// terminal. An error status delivers its body only when the user asked for the head too (--include).
import Glibc

final class ResponseDestination {
    private let path: String?
    private let include: Bool
    private var head: HTTPResponseHead?
    private var file: AtomicFile?
    private var progress: DownloadProgress?

    init(path: String?, include: Bool) {
        self.path = path
        self.include = include
    }

    /// The final response's head has arrived: decides whether its body is delivered, and starts.
    func begin(_ head: HTTPResponseHead, framing: HTTPBodyFraming) throws {
        self.head = head
        guard isDelivering else { return }
        if let path {
            file = try AtomicFile(replacing: path)
            if Output.isTerminal(STDERR_FILENO) {
                if case .length(let length) = framing {
                    progress = DownloadProgress(expected: length)
                } else {
                    progress = DownloadProgress(expected: nil)
                }
            }
        }
        if include {
            var text = head.statusLine + "\r\n"
            for field in head.fields { text += "\(field.name): \(field.value)\r\n" }
            text += "\r\n"
            try text.withUTF8 { try write(UnsafeRawBufferPointer($0), countsAsBody: false) }
        }
    }

    /// Whether the body goes anywhere: a success's always, an error's only with the head (--include).
    private var isDelivering: Bool { head.map { $0.isSuccess || include } ?? false }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, countsAsBody: true)
    }

    private func write(_ bytes: UnsafeRawBufferPointer, countsAsBody: Bool) throws {
        guard isDelivering else { return }
        if let file {
            try file.write(bytes)
        } else {
            Output.write(bytes)
        }
        if countsAsBody { progress?.advance(by: bytes.count) }
    }

    /// The whole response arrived: puts the file in place, then fails if the status was an error.
    func finish(from url: HTTPURL) throws {
        progress?.finish()
        try file?.commit()
        if let head, !head.isSuccess {
            throw DemoFailure(message: "\(url.hostHeader): \(head.statusLine.dropFirst(9)) for \(url)", exitCode: DemoFailure.remoteRefused)
        }
    }

    /// The response failed: removes the temporary file, leaving an existing file untouched.
    func discard() {
        progress?.finish()
        file?.discard()
    }
}
