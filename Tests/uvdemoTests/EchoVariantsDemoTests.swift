// The echo server's variants as processes: async/await, several loops, and graceful shutdown.
import Foundation
import Testing

@Suite("echo-server variants")
struct EchoVariantsDemoTests {
    @Test(
        "every variant echoes concurrent Python clients byte for byte and exits 0 on SIGTERM",
        arguments: [
            ["--api", "async"], ["--loops", "2"], ["--loops", "2", "--api", "async"],
        ])
    func variants(arguments: [String]) throws {
        let server = try Demo(["echo-server", "--port", "0"] + arguments)
        let port = try server.listeningPort()
        let peer = try python(echoCheckClient, ["\(port)", "20", "200000"])
        #expect(peer.stdout == String(repeating: "same\n", count: 20), "\(peer.stdout) \(peer.stderr)")
        server.signal(SIGTERM)
        let ended = server.wait()
        #expect(ended.status == 0, "\(ended.stderr)")
    }

    @Test(
        "on SIGTERM a server stops accepting, lets its client finish, loses no byte, and exits 0",
        arguments: [["--api", "callback"], ["--api", "async"], ["--loops", "2"]])
    func gracefulShutdown(arguments: [String]) throws {
        let server = try Demo(["echo-server", "--port", "0"] + arguments)
        let port = try server.listeningPort()
        // The client sends 8 MiB without reading, so the server is mid-echo (bytes received, queued,
        // buffered) when the signal comes; then the client half-closes and reads everything back.
        let client = try Demo.pythonServer(
            """
            import socket, sys, threading, time
            payload = bytes((i * 31) % 251 for i in range(8 << 20))
            s = socket.create_connection(("127.0.0.1", \(port)))
            def send():
                try:
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                except OSError: pass
            threading.Thread(target=send, daemon=True).start()
            time.sleep(0.5)
            print("sent", flush=True)
            sys.stdin.readline()
            got = bytearray()
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk: break
                    got += chunk
                ending = "eof"
            except ConnectionResetError:
                ending = "reset"
            print(ending, len(got) == len(payload), bytes(got) == payload, flush=True)
            late = socket.socket()
            print("refused" if late.connect_ex(("127.0.0.1", \(port))) != 0 else "accepted", flush=True)
            """)
        #expect(try client.readLine() == "sent")
        server.signal(SIGTERM)
        try client.writeLine("read now")
        #expect(try client.readLine() == "eof True True", "every byte back, then a clean EOF")
        #expect(try client.readLine() == "refused", "a new connection after the signal")
        #expect(server.wait().status == 0)
    }

    @Test("--secret: the right key echoes, a wrong key and no key are rejected", arguments: ["callback", "async"])
    func hmacChallenge(api: String) throws {
        let server = try Demo(["echo-server", "--port", "0", "--api", api, "--secret", "s3cret"])
        let port = try server.listeningPort()
        let right = try Demo.run(["echo-client", "--port", "\(port)", "--secret", "s3cret", "hello", "again"])
        #expect(right.status == 0)
        #expect(right.stdout == "hello\nagain\n")
        let wrong = try Demo.run(["echo-client", "--port", "\(port)", "--secret", "guess", "hello"])
        #expect(wrong.status == 1)
        #expect(wrong.stdout == "")
        #expect(wrong.stderr.contains("authentication failed"))
        let none = try Demo.run(["echo-client", "--port", "\(port)", String(repeating: "x", count: 40)])
        #expect(!none.stdout.contains("xxxx"), "a client without the key got an echo")
        server.signal(SIGTERM)
        let ended = server.wait()
        #expect(ended.status == 0)
        #expect(ended.stderr.components(separatedBy: "authentication failed for 127.0.0.1:").count == 3)
    }

    @Test("--lines echoes each line in upper case; a line over the limit ends that connection", arguments: ["callback", "async"])
    func lineFraming(api: String) throws {
        let server = try Demo(["echo-server", "--port", "0", "--api", api, "--lines"])
        let port = try server.listeningPort()
        defer { server.signal(SIGTERM) }
        let peer = try python(
            """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            # Lines cut across sends and several lines in one send: framing must not care.
            for piece in [b"hel", b"lo wor", b"ld\\nsecond line\\nthi", b"rd\\n"]:
                s.sendall(piece)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                got += chunk
            print(got.decode(), end="")
            long = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            long.sendall(b"y" * (70 * 1024))
            reply = long.recv(65536)
            print(reply.decode().startswith("error:"))
            """, ["\(port)"])
        #expect(peer.stdout == "HELLO WORLD\nSECOND LINE\nTHIRD\nTrue\n", "\(peer.stderr)")
    }
}
