// Where a demo's output goes: results on stdout, logs and errors on stderr, one line each. A value,
// handed to whatever prints, so that nothing prints through a global.
import Glibc
import UVNet

struct Console: Sendable {
    /// Where results go.
    let output: CInt
    /// Where logs, errors and progress go; nil when silenced (`fetch -s`).
    let errors: CInt?
    /// What each log and error line starts with (a pre-fork worker says which it is).
    var prefix = ""
    /// Whether progress may be drawn (on a terminal only, whatever this says).
    var drawsProgress = true

    /// This process's stdout and stderr.
    static let standard = Console(output: STDOUT_FILENO, errors: STDERR_FILENO)

    /// The same console with nothing on stderr.
    var silenced: Console { Console(output: output, errors: nil, prefix: prefix) }

    /// The same console with errors but no progress (`fetch -sS`).
    var withoutProgress: Console { Console(output: output, errors: errors, prefix: prefix, drawsProgress: false) }

    /// The same console, its log and error lines starting with `prefix`.
    func prefixed(_ prefix: String) -> Console {
        Console(output: output, errors: errors, prefix: prefix, drawsProgress: drawsProgress)
    }

    /// Whether progress is shown: on a terminal, unless turned off.
    var showsProgress: Bool { drawsProgress && (errors.map { isatty($0) != 0 } ?? false) }

    /// The one line every server prints once it accepts: tests and scripts wait for it.
    func listening(on address: SocketAddress) {
        line("listening on \(address)", to: output)
    }

    /// `listening on unix:PATH`, for a Unix-domain server.
    func listening(onPath path: String) {
        line("listening on unix:\(path)", to: output)
    }

    /// Raw bytes to stdout, as they came. Unbuffered, so output is never held back.
    func write(_ bytes: UnsafeRawBufferPointer) {
        writeAll(bytes, to: output)
    }

    /// Text to stdout, as it is.
    func write(_ text: String) {
        var text = text
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: output) }
    }

    /// A progress line on stderr that the next one overwrites (for terminals); empty clears it.
    func progress(_ text: String) {
        guard drawsProgress, let errors else { return }
        var text = "\r\u{1B}[K" + text
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: errors) }
    }

    /// One line on stderr, prefixed with the program's name.
    func error(_ message: String) {
        if let errors { line("uvdemo: \(prefix)\(message)", to: errors) }
    }

    /// A log line on stderr.
    func log(_ message: String) {
        if let errors { line(prefix + message, to: errors) }
    }

    private func line(_ text: String, to descriptor: CInt) {
        var text = text + "\n"
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: descriptor) }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: CInt) {
        // A failure means the stream closed under us (a pipe reader went away): nothing left to tell.
        _ = SystemFiles.writeAll(bytes, to: descriptor)
    }
}
