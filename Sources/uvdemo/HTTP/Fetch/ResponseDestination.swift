// Where a fetched response goes: stdout, a file replaced atomically, or a file resumed in place; with a
// progress bar on a terminal. An error status delivers its body only when the user asked for the head
// too (--include).
import Glibc

final class ResponseDestination {
    /// Where the body is to go.
    enum Target: Sendable {
        case standardOutput
        /// A file replaced only once the whole body arrived (-o, -O).
        case file(String)
        /// A file resumed where it ends, and kept as far as it got when the transfer fails (-C -).
        case resumableFile(String)

        /// Whether a failed transfer leaves what arrived.
        var keepsPartial: Bool {
            if case .resumableFile = self { return true }
            return false
        }
    }

    private let include: Bool
    private let console: Console
    private var head: HTTPResponseHead?
    private var sink: Sink
    private var progress: DownloadProgress?

    /// What the body is written to.
    private enum Sink {
        case standardOutput
        case atomic(path: String, file: AtomicFile?)
        case resumable(ResumableFile)
    }

    init(_ target: Target, include: Bool, console: Console) throws(DemoFailure) {
        self.include = include
        self.console = console
        switch target {
        case .standardOutput: sink = .standardOutput
        case .file(let path): sink = .atomic(path: path, file: nil)
        case .resumableFile(let path): sink = .resumable(try ResumableFile(path))
        }
    }

    /// Where a resumed transfer starts (the bytes already there), 0 for a fresh one.
    var resumeOffset: Int {
        if case .resumable(let file) = sink { return file.size }
        return 0
    }

    /// The final response's head has arrived: decides whether its body is delivered, and starts.
    func begin(_ head: HTTPResponseHead, framing: HTTPBodyFraming, url: HTTPURL) throws {
        self.head = head
        if case .resumable(let file) = sink, file.size > 0 {
            try resume(file, with: head, url: url)
        }
        guard isDelivering else { return }
        if case .atomic(let path, nil) = sink { sink = .atomic(path: path, file: try AtomicFile(replacing: path)) }
        if !isStandardOutput, console.showsProgress {
            let alreadyThere = head.status == 206 ? resumeOffset : 0
            let expected: Int? = if case .length(let length) = framing { length + alreadyThere } else { nil }
            progress = DownloadProgress(expected: expected, alreadyThere: alreadyThere, console: console)
        }
        if include {
            var text = head.statusLine + "\r\n"
            for field in head.fields { text += "\(field.name): \(field.value)\r\n" }
            text += "\r\n"
            try text.withUTF8 { try write(UnsafeRawBufferPointer($0), countsAsBody: false) }
        }
    }

    /// A resumed transfer's answer: 206 goes on where the file ends; 200 (the range ignored) starts
    /// the file over; 416 with the file's own length means it is already complete.
    private func resume(_ file: ResumableFile, with head: HTTPResponseHead, url: HTTPURL) throws {
        let contentRange = head.fields["content-range"].flatMap { HTTPContentRange($0) }
        switch head.status {
        case 206:
            guard contentRange?.range?.lowerBound == file.size else {
                throw DemoFailure(
                    message: "\(url.hostHeader): asked to resume at byte \(file.size), the server answered \(head.fields["content-range"] ?? "no Content-Range")",
                    exitCode: DemoFailure.networkFailure)
            }
        case 416 where contentRange?.length == file.size:
            file.isComplete = true
        case 200..<300:
            try file.startOver()
        default:
            break
        }
    }

    private var isStandardOutput: Bool {
        if case .standardOutput = sink { return true }
        return false
    }

    /// Whether the body goes anywhere: a success's always, an error's only with the head (--include).
    private var isDelivering: Bool {
        if case .resumable(let file) = sink, file.isComplete { return false }
        return head.map { $0.isSuccess || include } ?? false
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, countsAsBody: true)
    }

    private func write(_ bytes: UnsafeRawBufferPointer, countsAsBody: Bool) throws {
        guard isDelivering else { return }
        switch sink {
        case .standardOutput: console.write(bytes)
        case .atomic(_, let file): try file?.write(bytes)
        case .resumable(let file): try file.write(bytes)
        }
        if countsAsBody { progress?.advance(by: bytes.count) }
    }

    /// The whole response arrived: puts the file in place, then fails if the status was an error.
    func finish(from url: HTTPURL) throws {
        progress?.finish()
        let succeeded = head?.isSuccess ?? false
        switch sink {
        case .standardOutput: break
        case .atomic(_, let file): try file?.commit()
        case .resumable(let file):
            if file.isComplete { return try file.finish() }  // nothing was missing
            if succeeded { try file.finish() } else { file.abandon() }
        }
        if let head, !succeeded {
            throw DemoFailure(message: "\(url.hostHeader): \(head.statusLine.dropFirst(9)) for \(url)", exitCode: DemoFailure.remoteRefused)
        }
    }

    /// The response failed: removes the temporary file (an existing file stays untouched), or keeps a
    /// resumed file as far as it got.
    func discard() {
        progress?.finish()
        switch sink {
        case .standardOutput: break
        case .atomic(_, let file): file?.discard()
        case .resumable(let file): file.abandon()
        }
    }
}

/// A file written in place from where it ends: a partial download to resume (-C -).
final class ResumableFile {
    let path: String
    private var descriptor: CInt
    /// The bytes in the file now.
    private(set) var size: Int
    /// The server said the file is already whole (a 416 for a range starting at its end).
    var isComplete = false

    init(_ path: String) throws(DemoFailure) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw .system("open", path, exitCode: DemoFailure.badUsage) }
        var info = stat()
        fstat(descriptor, &info)
        size = Int(info.st_size)
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The server sent the whole thing again: what was there goes.
    func startOver() throws(DemoFailure) {
        guard ftruncate(descriptor, 0) == 0 else { throw .system("truncate", path) }
        size = 0
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(DemoFailure) {
        guard SystemFiles.writeAll(bytes, to: descriptor) else { throw .system("write", path) }
        size += bytes.count
    }

    /// Closes the file, complete.
    func finish() throws(DemoFailure) {
        guard descriptor >= 0 else { return }
        defer { descriptor = -1 }
        guard close(descriptor) == 0 else { throw .system("write", path) }
    }

    /// The transfer failed: what arrived stays, to resume; a file that got nothing is not left behind.
    func abandon() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
        if size == 0 { unlink(path) }
    }
}
