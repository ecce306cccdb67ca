// A demo run as a real process for the tour, with UVNet's own process support: its stdout and stderr
// read through pipes as they come, its exit awaited, SIGTERM sent as a user would.
import UVNet

/// `uvdemo ARGUMENTS…` started as a child of this process.
final class DemoProcess: Sendable {
    /// How the process ended, and what it printed.
    struct Ending: Sendable {
        let termination: ChildProcess.Termination
        let output: String
        let errors: String

        /// The process's last line on stderr, to say why it failed.
        var lastError: String {
            errors.split(separator: "\n").last.map(String.init) ?? "\(termination)"
        }
    }

    let name: String
    private let child: ChildProcess
    /// What stdout and stderr said so far; drained all the time, so the child never blocks on a full pipe.
    private let output: LoopBound<[UInt8]>
    private let errors: LoopBound<[UInt8]>
    private let drained: LoopBound<Int>

    /// Starts this program with `arguments`, on `loop`'s thread.
    init(_ name: String, _ arguments: [String], on loop: Loop) throws {
        self.name = name
        child = try ChildProcess(
            on: loop, executable: ThisProgram.path, arguments: arguments, descriptors: [.ignore, .pipe, .pipe])
        output = LoopBound([], on: loop)
        errors = LoopBound([], on: loop)
        drained = LoopBound(0, on: loop)
        for (pipe, into) in [(child.standardOutput!, output), (child.standardError!, errors)] {
            pipe.startReading { [drained] chunk in
                switch chunk {
                case .success(let bytes): into.value.append(contentsOf: bytes)
                case .failure:
                    drained.value += 1
                    pipe.close()
                }
            }
        }
    }

    /// The first line the process printed on stdout (a server's `listening on …`), waiting up to
    /// `timeout`; nil when it ended (or went quiet) first.
    func firstLine(within timeout: Duration) async throws -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let newline = output.value.firstIndex(of: UInt8(ascii: "\n")) {
                return String(decoding: output.value[..<newline], as: UTF8.self)
            }
            if drained.value == 2 { return nil }
            try await child.loop.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// Sends `signal` (SIGTERM by default), as a user would.
    func signal(_ signal: Signal.Number = .terminate) {
        try? child.kill(signal)
    }

    /// Waits until the process has ended and its pipes are read to the end; past `timeout` it is killed,
    /// and the ending says so.
    func ending(within timeout: Duration) async throws -> Ending {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while (child.exitStatus == nil || drained.value < 2) && clock.now < deadline {
            try await child.loop.sleep(for: .milliseconds(5))
        }
        if child.exitStatus == nil {
            signal(.kill)
            _ = try? await child.termination()
            throw TourFailure("\(name) still running after \(timeout)")
        }
        return Ending(
            termination: child.exitStatus!, output: String(decoding: output.value, as: UTF8.self),
            errors: String(decoding: errors.value, as: UTF8.self))
    }
}

/// Why a check failed.
struct TourFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
