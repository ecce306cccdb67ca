// A server demo run on a thread of its own, as its command runs from the shell, with its output
// captured: the tour starts several and talks to them from the main thread.
import ArgumentParser
import Glibc
import Synchronization

final class ServerThread {
    let name: String
    /// The port from the server's `listening on` line.
    let port: Int
    /// What the server printed to stderr (its stdout was its `listening on` line).
    let output: CapturedOutput
    private let outcome: Outcome

    /// Starts `Command` with `arguments` and waits for its `listening on` line.
    init<Command: ParsableCommand>(_ name: String, _ command: Command.Type, _ arguments: [String]) throws(DemoFailure) {
        self.name = name
        output = try CapturedOutput()
        var ends: [CInt] = [0, 0]
        guard pipe(&ends) == 0 else { throw .system("create a pipe for", name) }
        let (readEnd, writeEnd) = (ends[0], ends[1])
        var streams = output.streams
        streams.standardOutput = writeEnd
        let outcome = Outcome()
        self.outcome = outcome
        BackgroundThread.start { [streams] in
            outcome.result = Output.redirecting(to: streams) { () -> Result<Void, DemoFailure> in
                do {
                    var server = try command.parse(arguments)
                    try server.run()
                    return .success(())
                } catch let failure as DemoFailure {
                    return .failure(failure)
                } catch {
                    return .failure(.usage(command.message(for: error)))
                }
            }
            close(writeEnd)
        }
        let line = Self.readLine(from: readEnd)
        close(readEnd)
        guard line.hasPrefix("listening on "), let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            let reason = outcome.result.flatMap { if case .failure(let failure) = $0 { failure.message } else { nil } }
            throw DemoFailure(message: "\(name) did not start: \(reason ?? "no 'listening on' line")",
                              exitCode: DemoFailure.networkFailure)
        }
        self.port = port
    }

    /// What the server's `run()` ended with, once it has.
    var result: Result<Void, DemoFailure>? { outcome.result }

    /// The first line the server printed, or "" if it ended first.
    private static func readLine(from descriptor: CInt) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(descriptor, &byte, 1) == 1 && byte != UInt8(ascii: "\n") { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A server's result, written by its thread and read by the tour's.
private final class Outcome: Sendable {
    private let value = Mutex<Result<Void, DemoFailure>?>(nil)

    var result: Result<Void, DemoFailure>? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// A detached POSIX thread running a closure once.
enum BackgroundThread {
    static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            body.run()
            return nil
        }, box)
        precondition(created == 0, "pthread_create failed: \(created)")
        pthread_detach(thread)
    }

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
