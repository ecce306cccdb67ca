// Where demo output goes: results on stdout, logs and errors on stderr, one line each. A thread can
// send its own output elsewhere: the tour runs the demos side by side in one process and reads each one's.
import Glibc
import UVNet

enum Output {
    /// Where this thread's output goes: the process's stdout and stderr unless redirected.
    struct Streams {
        var standardOutput = STDOUT_FILENO
        var standardError = STDERR_FILENO
    }

    /// Runs `body` with this thread's output going to `streams`.
    static func redirecting<Result>(to streams: Streams, _ body: () throws -> Result) rethrows -> Result {
        let previous = pthread_getspecific(streamsKey)
        let box = Unmanaged.passRetained(StreamsBox(streams))
        pthread_setspecific(streamsKey, box.toOpaque())
        defer {
            pthread_setspecific(streamsKey, previous)
            box.release()
        }
        return try body()
    }

    /// Whether `descriptor` (STDOUT_FILENO or STDERR_FILENO), as this thread sees it, is a terminal.
    static func isTerminal(_ descriptor: CInt) -> Bool {
        isatty(descriptor == STDOUT_FILENO ? streams.standardOutput : streams.standardError) != 0
    }
    /// The one line every server prints when it accepts: tests and scripts wait for it.
    static func listening(on address: SocketAddress) {
        line("listening on \(address)", to: streams.standardOutput)
    }

    /// Raw bytes to stdout, as they came. Unbuffered, so output is never held back.
    static func write(_ bytes: UnsafeRawBufferPointer) {
        writeAll(bytes, to: streams.standardOutput)
    }

    /// Text to stdout, as it is.
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: streams.standardOutput) }
    }

    /// A progress line on stderr that the next one overwrites (for terminals); empty clears it.
    static func progress(_ text: String) {
        var text = "\r\u{1B}[K" + text
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: streams.standardError) }
    }

    /// One line on stderr, prefixed with the program's name.
    static func error(_ message: String) {
        line("uvdemo: \(message)", to: streams.standardError)
    }

    /// A log line on stderr.
    static func log(_ message: String) {
        line(message, to: streams.standardError)
    }

    private static var streams: Streams {
        guard let box = pthread_getspecific(streamsKey) else { return Streams() }
        return Unmanaged<StreamsBox>.fromOpaque(box).takeUnretainedValue().streams
    }

    private static let streamsKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static func line(_ text: String, to descriptor: CInt) {
        var text = text + "\n"
        text.withUTF8 { writeAll(UnsafeRawBufferPointer($0), to: descriptor) }
    }

    private static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: CInt) {
        // A failure means stdout closed under us (a pipe reader went away): nothing left to tell.
        _ = SystemFiles.writeAll(bytes, to: descriptor)
    }
}

private final class StreamsBox {
    let streams: Output.Streams
    init(_ streams: Output.Streams) { self.streams = streams }
}
