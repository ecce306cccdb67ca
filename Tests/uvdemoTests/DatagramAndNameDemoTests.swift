// The UDP echo, time, resolve and info demos as processes, against peers no UVNet code wrote:
// Python's socket module, socat and nc.
import Foundation
import Testing

@Suite("UDP echo, time, resolve and info demos")
struct DatagramAndNameDemoTests {
    @Test("the UDP echo server answers a Python client datagram for datagram, empty ones included")
    func udpEchoServer() throws {
        let server = try Demo(["echo-server", "--udp", "--port", "0"])
        let port = try server.listeningPort()
        let peer = try python(
            """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            messages = [b"one", b"", b"x" * 60000, bytes(range(256))]
            for m in messages:
                s.sendto(m, ("127.0.0.1", int(sys.argv[1])))
                reply, sender = s.recvfrom(65536)
                print("ok" if reply == m and sender[1] == int(sys.argv[1]) else f"bad {len(reply)}")
            """, ["\(port)"])
        #expect(peer.stdout == "ok\nok\nok\nok\n", "\(peer.stderr)")
        server.signal(SIGTERM)
        #expect(server.wait().status == 0)
    }

    @Test("the UDP echo client prints each reply and says which message timed out")
    func udpEchoClient() throws {
        let server = try Demo(["echo-server", "--udp", "--port", "0"])
        let port = try server.listeningPort()
        let client = try Demo.run(["echo-client", "--udp", "--port", "\(port)", "alpha", "beta"])
        #expect(client.status == 0)
        #expect(client.stdout == "alpha\nbeta\n")
        server.signal(SIGTERM)
        #expect(server.wait().status == 0)

        // A Python peer that answers only its first datagram: the second must time out, by name.
        let silent = try Demo.pythonServer(
            """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1], flush=True)
            data, peer = s.recvfrom(65536)
            s.sendto(data, peer)
            s.settimeout(10)
            try:
                s.recvfrom(65536)
            except Exception:
                pass
            """)
        let silentPort = try silent.readLine()
        let timedOut = try Demo.run(["echo-client", "--udp", "--port", silentPort, "--timeout", "0.3", "first", "second"])
        #expect(timedOut.status == 3)
        #expect(timedOut.stdout == "first\n")
        #expect(timedOut.stderr.contains("no reply to message 2 ('second') within 0.3 s"))
    }

    @Test("the UDP time server answers every request exactly once, bad formats with an error")
    func udpTimeServer() throws {
        let server = try Demo(["time-server", "--udp", "--port", "0"])
        let port = try server.listeningPort()
        defer { server.signal(SIGTERM) }
        let peer = try python(
            """
            import socket, sys, re, time
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            address = ("127.0.0.1", int(sys.argv[1]))
            requests = [b"", b"%Y", b"\\xff\\xfe", b"%H" * 200, b"plain text"]
            for r in requests:
                s.sendto(r, address)
            replies = []
            s.settimeout(1)
            try:
                while True:
                    replies.append(s.recvfrom(65536)[0].decode())
            except socket.timeout:
                pass
            print(len(replies))
            for reply in replies:
                print(reply)
            """, ["\(port)"])
        let lines = peer.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        try #require(lines.first == "5", "expected exactly 5 replies: \(peer.stdout) \(peer.stderr)")
        let year = Calendar.current.component(.year, from: Date())
        #expect(lines[1].range(of: #"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"#, options: .regularExpression) != nil)
        #expect(lines[2] == "\(year)")
        #expect(lines[3] == "error: the format is not valid UTF-8")
        #expect(lines[4] == "error: the format is 400 bytes; at most 256 are accepted")
        #expect(lines[5] == "plain text")
    }

    @Test("the TCP time server timestamps each line for several clients at once (socat and nc)")
    func tcpTimeServer() throws {
        let server = try Demo(["time-server", "--tcp", "--port", "0"])
        let port = try server.listeningPort()
        defer { server.signal(SIGTERM) }
        let socat = try Demo.shell("printf 'hello\\nworld\\n' | socat -t 2 - TCP:127.0.0.1:\(port)")
        let nc = try Demo.shell("printf 'from nc\\n' | nc -N 127.0.0.1 \(port)")
        let stamp = #"^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] "#
        let socatLines = socat.stdout.split(separator: "\n").map(String.init)
        #expect(socatLines.count == 2, "\(socat.stdout) \(socat.stderr)")
        #expect(socatLines.allSatisfy { $0.range(of: stamp, options: .regularExpression) != nil })
        #expect(socatLines.first?.hasSuffix("] hello") == true)
        #expect(socatLines.last?.hasSuffix("] world") == true)
        #expect(nc.stdout.range(of: stamp + "from nc\n$", options: .regularExpression) != nil, "\(nc.stdout) \(nc.stderr)")
    }

    @Test("the time client asks the UDP server (default format) and the TCP server (lines)")
    func timeClient() throws {
        let udp = try Demo(["time-server", "--port", "0"])
        let udpPort = try udp.listeningPort()
        defer { udp.signal(SIGTERM) }
        let answer = try Demo.run(["time-client", "--port", "\(udpPort)", "%Y"])
        #expect(answer.status == 0)
        #expect(answer.stdout == "\(Calendar.current.component(.year, from: Date()))\n")

        let tcp = try Demo(["time-server", "--tcp", "--port", "0"])
        let tcpPort = try tcp.listeningPort()
        defer { tcp.signal(SIGTERM) }
        let stamped = try Demo.run(["time-client", "--tcp", "--port", "\(tcpPort)", "one", "two"])
        #expect(stamped.status == 0)
        #expect(stamped.stdout.hasSuffix("] two\n"))
        #expect(stamped.stdout.split(separator: "\n").count == 2)
    }

    @Test("resolve prints family, socket type and address; --verify checks 127.0.0.1 both ways")
    func resolve() throws {
        let numeric = try Demo.run(["resolve", "127.0.0.1", "--service", "http"])
        #expect(numeric.status == 0)
        #expect(numeric.stdout.hasPrefix("IPv4 stream 127.0.0.1\n"))
        let localhost = try Demo.run(["resolve", "localhost", "--family", "4"])
        #expect(localhost.status == 0)
        #expect(localhost.stdout.contains("IPv4 stream 127.0.0.1\n"))
        #expect(!localhost.stdout.contains("IPv6"))
        let verified = try Demo.run(["resolve", "127.0.0.1", "--verify"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("verified: 127.0.0.1 -> "))
    }

    @Test("resolve reports a name that cannot exist and an address with no reverse name")
    func resolveFailures() throws {
        let missing = try Demo.run(["resolve", "no-such-host.invalid"], timeout: 30)
        #expect(missing.status == 3)
        #expect(missing.stderr.contains("no-such-host.invalid"))
        let bad = try Demo.run(["resolve", "localhost", "--family", "5"])
        #expect(bad.status == 2)
    }

    @Test("info connects to a local listener and prints both ends")
    func info() throws {
        let server = try Demo(["echo-server", "--port", "0"])
        let port = try server.listeningPort()
        defer { server.signal(SIGTERM) }
        let info = try Demo.run(["info", "localhost", "\(port)"])
        #expect(info.status == 0, "\(info.stderr)")
        let lines = info.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("Connected from ") == true)
        #expect(lines.last?.hasSuffix(":\(port)") == true)
        let unknown = try Demo.run(["info", "localhost", "no-such-service"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no-such-service"))
    }
}
