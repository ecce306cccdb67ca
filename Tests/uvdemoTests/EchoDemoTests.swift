// The TCP echo demos as a user runs them: real processes, real peers, signals and exit codes.
import Foundation
import Testing

@Suite("echo-server and echo-client")
struct EchoDemoTests {
    @Test("the server prints one listening line, serves the client, and exits 0 on SIGTERM")
    func clientAndServer() throws {
        let server = try Demo(["echo-server", "--port", "0"])
        let port = try server.listeningPort()
        let client = try Demo.run(["echo-client", "--port", "\(port)", "hello", "wide world"])
        #expect(client.status == 0)
        #expect(client.stdout == "hello\nwide world\n")
        #expect(client.stderr == "")
        server.signal(SIGTERM)
        let ended = server.wait()
        #expect(ended.status == 0)
        #expect(ended.stdout == "", "the listening line is the only line on stdout")
    }

    @Test("without messages the client sends stdin line by line; SIGINT ends the server cleanly")
    func stdinLines() throws {
        let server = try Demo(["echo-server", "--port", "0", "--verbose"])
        let port = try server.listeningPort()
        let input = (1...200).map { "line \($0) " + String(repeating: "x", count: $0) }.joined(separator: "\n") + "\n"
        let client = try Demo.run(["echo-client", "--port", "\(port)"], input: input)
        #expect(client.status == 0)
        #expect(client.stdout == input)
        server.signal(SIGINT)
        let ended = server.wait()
        #expect(ended.status == 0)
        #expect(ended.stderr.contains("connected: 127.0.0.1:"))
        #expect(ended.stderr.contains("disconnected: 127.0.0.1:"))
    }

    @Test("the server echoes a Python client byte for byte, including a 1 MiB burst")
    func foreignClient() throws {
        let server = try Demo(["echo-server", "--port", "0"])
        let port = try server.listeningPort()
        defer { server.signal(SIGTERM) }
        let peer = try python(echoCheckClient, ["\(port)", "1", "\(1 << 20)"])
        #expect(peer.stdout == "same\n", "\(peer.stderr)")
    }

    @Test("a refused connection is one stderr line naming the address, exit 1")
    func refused() throws {
        let probe = try Demo(["echo-server", "--port", "0"])
        let port = try probe.listeningPort()
        probe.signal(SIGTERM)
        #expect(probe.wait().status == 0)
        let client = try Demo.run(["echo-client", "--port", "\(port)", "hi"])
        #expect(client.status == 1)
        #expect(client.stderr == "uvdemo: connect to 127.0.0.1:\(port): connection refused (ECONNREFUSED)\n")
    }

    @Test(
        "bad addresses and ports are usage errors, exit 2",
        arguments: [
            ["echo-client", "--port", "70000"], ["echo-client", "--port", "x"], ["echo-client", "--udp", "--timeout", "0"],
            ["echo-server", "--host", "not-an-ip"], ["echo-server", "--port", "-1"],
        ])
    func badInput(arguments: [String]) throws {
        let demo = try Demo.run(arguments + ["hi"])
        #expect(demo.status == 2)
        #expect(demo.stderr.hasPrefix("uvdemo: ") || demo.stderr.hasPrefix("Error: "), "\(demo.stderr)")
        #expect(demo.stdout == "")
    }

    @Test("a host name that does not resolve is a network failure naming the host, exit 3")
    func unknownHost() throws {
        let client = try Demo.run(["echo-client", "--host", "no-such-host.invalid", "hi"], timeout: 30)
        #expect(client.status == 3)
        #expect(client.stderr.contains("no-such-host.invalid"))
    }

    @Test("a server whose port is taken says so and exits 3")
    func portTaken() throws {
        let first = try Demo(["echo-server", "--port", "0"])
        let port = try first.listeningPort()
        defer { first.signal(SIGTERM) }
        let second = try Demo.run(["echo-server", "--port", "\(port)"])
        #expect(second.status == 3)
        #expect(second.stderr.contains("127.0.0.1:\(port)"))
        #expect(second.stderr.contains("EADDRINUSE"))
    }
}
