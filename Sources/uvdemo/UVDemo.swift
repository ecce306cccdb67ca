// uvdemo: the classic socket-tutorial programs, redone on UVNet.
import ArgumentParser
import Glibc
import UVNet
import UVNetTLS

@main
struct UVDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uvdemo",
        abstract: "The classic socket-tutorial programs, redone on UVNet.",
        discussion: """
            Exit codes: 0 success, 1 the remote said no (refused, auth failed), 2 bad usage or input, \
            3 network, protocol or TLS failure.
            """,
        version: "0.1.0",
        groupedSubcommands: [
            CommandGroup(name: "The main demo", subcommands: [Tour.self]),
            CommandGroup(name: "Sockets", subcommands: [EchoServer.self, EchoClient.self, TimeServer.self, TimeClient.self]),
            CommandGroup(name: "Names and services", subcommands: [Resolve.self, Info.self]),
            CommandGroup(name: "HTTP", subcommands: [Fetch.self, Serve.self]),
            CommandGroup(name: "Load", subcommands: [Load.self]),
        ]
    )

    /// Runs the chosen demo and turns every failure into one stderr line and the documented exit code.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let failure as DemoFailure {
            if !failure.isReported { Console.standard.error(failure.message) }
            fail(failure.exitCode)
        } catch where error is UVError || error is TLSError {
            // A network error a demo did not explain further: its own line, its exit code.
            let failure = DemoFailure.network(error)
            Console.standard.error(failure.message)
            fail(failure.exitCode)
        } catch {
            let code = exitCode(for: error)
            guard code != .success else {
                print(fullMessage(for: error))
                if let examples = examplesAsked() { print(examples) }
                Glibc.exit(0)
            }
            // One line, as every demo failure is; --help has the rest.
            let reason = message(for: error).split(separator: "\n").first.map(String.init) ?? "bad usage"
            Console.standard.error("\(reason) (see 'uvdemo help')")
            Glibc.exit(DemoFailure.badUsage)
        }
    }

    /// Ends a failed demo at once. `exit` would run libuv's exit-time cleanup, which joins the thread
    /// pool and so waits for work the demo gave up on (a lookup no DNS server answers: 10 s and more).
    private static func fail(_ code: Int32) -> Never {
        fflush(nil)
        _exit(code)
    }

    /// When help was asked for a demo (`uvdemo fetch --help`, `uvdemo help fetch`): its examples, the
    /// help's last section.
    private static func examplesAsked() -> String? {
        let arguments = CommandLine.arguments.dropFirst()
        guard arguments.contains(where: { ["-h", "--help", "help"].contains($0) }) else { return nil }
        let demo = configuration.subcommands.first { command in arguments.contains(command._commandName) }
        guard let examples = (demo as? Exemplified.Type)?.examples else { return nil }
        return "EXAMPLES:\n" + examples.map { "  " + $0 }.joined(separator: "\n")
    }
}

/// A demo whose `--help` ends with a few command lines to try.
protocol Exemplified {
    static var examples: [String] { get }
}
