// Where demo output goes: results on stdout, logs and errors on stderr, one line each.
import Glibc
import UVNet

enum Output {
    /// The one line every server prints when it accepts: tests and scripts wait for it.
    static func listening(on address: SocketAddress) {
        line("listening on \(address)", to: STDOUT_FILENO)
    }

    /// Raw bytes to stdout, as they came. Unbuffered, so output is never held back.
    static func write(_ bytes: UnsafeRawBufferPointer) {
        writeAll(bytes, to: STDOUT_FILENO)
    }

    /// Text to stdout, as it is.
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: STDOUT_FILENO) }
    }

    /// A progress line on stderr that the next one overwrites (for terminals); empty clears it.
    static func progress(_ text: String) {
        var text = "\r\u{1B}[K" + text
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: STDERR_FILENO) }
    }

    /// One line on stderr, prefixed with the program's name.
    static func error(_ message: String) {
        line("uvdemo: \(message)", to: STDERR_FILENO)
    }

    /// A log line on stderr.
    static func log(_ message: String) {
        line(message, to: STDERR_FILENO)
    }

    private static func line(_ text: String, to descriptor: CInt) {
        var text = text + "\n"
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: descriptor) }
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: CInt) {
        var rest = bytes
        while let base = rest.baseAddress, !rest.isEmpty {
            let written = Glibc.write(descriptor, base, rest.count)
            if written < 0 {
                if errno == EINTR { continue }
                return  // stdout closed under us (a pipe reader went away): nothing left to tell.
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[written...])
        }
    }
}
