// The TLS demos against peers no UVNet code wrote: openssl s_server and s_client, nginx, curl and
// Python's ssl module. Every certificate is made at run time; everything stays on loopback.
import Foundation
import Testing
import UVNetTestSupport

@Suite("fetch https://")
struct FetchTLSDemoTests {
    let certificates: TestCertificates
    let root: URL

    init() throws {
        certificates = try TestCertificates()
        root = URL(fileURLWithPath: certificates.directory).appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data(Self.text.utf8).write(to: root.appendingPathComponent("small.txt"))
    }

    static let text = String(repeating: "served over TLS\n", count: 2000)  // 32 KiB: less than a pipe holds

    static let refusals: [(name: String, reason: String)] = [
        ("expired", "certificate has expired"),
        ("not-yet-valid", "certificate is not yet valid"),
        ("wrong-host", "host name mismatch (certificate is for other.example)"),
        ("self-signed", "self-signed certificate"),
        ("unknown-ca", "unable to get local issuer certificate"),
    ]

    @Test("a certificate that fails verification is refused with its own reason, exit 3; --insecure accepts it", arguments: refusals)
    func refused(name: String, reason: String) throws {
        let day = Duration.seconds(86_400)
        let served =
            switch name {
            case "expired": try certificates.issue(name, for: ["localhost"], validity: (.zero - day * 2)...(.zero - day))
            case "not-yet-valid": try certificates.issue(name, for: ["localhost"], validity: day...(day * 2))
            case "wrong-host": try certificates.issue(name, for: ["other.example"])
            case "self-signed": try certificates.issue(name, for: ["localhost"], issuer: .itself)
            default: try certificates.issue(name, for: ["localhost"], issuer: .unknownAuthority)
            }
        let server = try OpenSSLServer(root: root, certificate: served)
        let refused = try Demo.run(["fetch", "--cacert", certificates.caFile, server.url("small.txt")])
        #expect(refused.status == 3)
        #expect(refused.stderr == "uvdemo: TLS handshake with localhost: \(reason)\n")
        #expect(refused.stdout == "")

        let insecure = try Demo.run(["fetch", "--insecure", server.url("small.txt")])
        #expect(insecure.status == 0, "\(insecure.stderr)")
        #expect(insecure.stdout == Self.text)
    }

    @Test("the system's trust store does not trust a test CA: exit 3 without --cacert")
    func systemTrust() throws {
        let server = try OpenSSLServer(root: root, certificate: certificates.server)
        let refused = try Demo.run(["fetch", server.url("small.txt")])
        #expect(refused.status == 3)
        #expect(refused.stderr == "uvdemo: TLS handshake with localhost: unable to get local issuer certificate\n")
    }

    @Test("a server that speaks only TLS 1.0 or only TLS 1.1 is refused", arguments: ["-tls1", "-tls1_1"])
    func oldProtocol(version: String) throws {
        let server = try OpenSSLServer(
            root: root, certificate: certificates.server, options: [version, "-cipher", "DEFAULT@SECLEVEL=0"])
        let refused = try Demo.run(["fetch", "--cacert", certificates.caFile, server.url("small.txt")])
        #expect(refused.status == 3)
        #expect(refused.stderr.hasPrefix("uvdemo: TLS handshake with localhost: no TLS version in common (TLS 1.2 at least)"), "\(refused.stderr)")
    }

    @Test("100 MiB from openssl s_server and from nginx arrive byte-identical; nginx agrees on ALPN http/1.1")
    func largeFiles() throws {
        let big = patternData(100 << 20, seed: 3)
        try big.write(to: root.appendingPathComponent("big.bin"))
        let saved = URL(fileURLWithPath: certificates.directory).appendingPathComponent("saved.bin")

        let openssl = try OpenSSLServer(root: root, certificate: certificates.server)
        let fromOpenSSL = try Demo.run(["fetch", "-s", "--cacert", certificates.caFile, openssl.url("big.bin"), "-o", saved.path], timeout: 120)
        #expect(fromOpenSSL.status == 0, "\(fromOpenSSL.stderr)")
        #expect(try Data(contentsOf: saved) == big)

        let nginx = try Nginx(certificate: certificates.server)
        try nginx.write(big, to: "big.bin")
        let fromNginx = try Demo.run(
            ["fetch", "-v", "--cacert", certificates.caFile, "https://localhost:\(nginx.port)/big.bin", "-o", saved.path], timeout: 120)
        #expect(fromNginx.status == 0, "\(fromNginx.stderr)")
        #expect(try Data(contentsOf: saved) == big)
        #expect(fromNginx.stderr.contains("TLS: TLSv1.3, "), "\(fromNginx.stderr)")
        #expect(fromNginx.stderr.contains(", ALPN http/1.1"), "\(fromNginx.stderr)")
    }

    @Test("redirects go from http to https and back")
    func schemeRedirects() throws {
        let nginx = try Nginx(locations: "location = /to-plain { return 302 http://127.0.0.1:$arg_port/small.txt; }",
                              certificate: certificates.server)
        try nginx.write(Data(Self.text.utf8), to: "small.txt")
        let plain = try Nginx(locations: "location = /to-tls { return 301 https://localhost:\(nginx.port)/to-plain?port=$server_port; }")
        try plain.write(Data(Self.text.utf8), to: "small.txt")
        let fetched = try Demo.run(["fetch", "-v", "--cacert", certificates.caFile, "\(plain.url)/to-tls"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout == Self.text)
        #expect(fetched.stderr.contains("redirected to https://localhost:\(nginx.port)/to-plain?port=\(plain.port)"), "\(fetched.stderr)")
        #expect(fetched.stderr.contains("redirected to http://127.0.0.1:\(plain.port)/small.txt"), "\(fetched.stderr)")
    }

    /// Answers `/cut` with a body ended by the connection's close and `/sized` with a Content-Length body,
    /// each time closing TCP without close_notify (Python's ssl closes that way).
    static let truncatingServer = """
        import socket, ssl, sys
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
        print(s.getsockname()[1], flush=True)
        while True:
            c, _ = s.accept()
            try:
                t = context.wrap_socket(c, server_side=True)
                head = b""
                while b"\\r\\n\\r\\n" not in head: head += t.recv(4096)
                if head.split(b" ")[1] == b"/cut":
                    t.sendall(b"HTTP/1.1 200 OK\\r\\nConnection: close\\r\\n\\r\\n" + b"x" * 50000)
                else:
                    t.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\nConnection: close\\r\\n\\r\\nhello")
                t.close()
            except (OSError, ssl.SSLError):
                c.close()
        """

    @Test("a body ended by a close without close_notify is a failure (exit 3), -o untouched; a sized body completes")
    func truncation() throws {
        let server = try PythonPeer(Self.truncatingServer, arguments: [certificates.server.chain, certificates.server.key])
        let kept = URL(fileURLWithPath: certificates.directory).appendingPathComponent("kept.txt")
        try Data("what was there\n".utf8).write(to: kept)
        let cut = try Demo.run(["fetch", "--cacert", certificates.caFile, "https://localhost:\(server.port)/cut", "-o", kept.path])
        #expect(cut.status == 3)
        #expect(cut.stderr.contains("localhost"), "\(cut.stderr)")
        #expect(cut.stderr.contains("peer sent no close_notify"), "\(cut.stderr)")
        #expect(try String(contentsOf: kept, encoding: .utf8) == "what was there\n")

        let sized = try Demo.run(["fetch", "--cacert", certificates.caFile, "https://localhost:\(server.port)/sized"])
        #expect(sized.status == 0, "\(sized.stderr)")
        #expect(sized.stdout == "hello")
    }
}

@Suite("serve and echo-server over TLS")
struct ServeTLSDemoTests {
    let certificates: TestCertificates

    init() throws {
        certificates = try TestCertificates()
    }

    private func start(_ arguments: [String]) throws -> (Demo, Int) {
        let server = try Demo(arguments + ["--tls-cert", certificates.server.chain, "--tls-key", certificates.server.key, "--port", "0"])
        return (server, try server.listeningPort())
    }

    @Test("serve answers curl, Python's ssl and openssl s_client over HTTPS, with ALPN http/1.1")
    func serve() throws {
        let file = patternData(1 << 20, seed: 5)
        try file.write(to: URL(fileURLWithPath: certificates.directory).appendingPathComponent("file.bin"))
        let (server, port) = try start(["serve", "--root", certificates.directory])
        defer { server.signal(SIGTERM) }
        let url = "https://localhost:\(port)/file.bin"

        let curl = try Demo.shell("curl -sS --cacert '\(certificates.caFile)' -w '%{http_code}' -o /dev/stdout '\(url)' | tail -c 3")
        #expect(curl.stdout == "200", "\(curl.stderr)")
        let saved = URL(fileURLWithPath: certificates.directory).appendingPathComponent("curl.bin")
        _ = try Demo.shell("curl -sS --cacert '\(certificates.caFile)' -o '\(saved.path)' '\(url)'")
        #expect(try Data(contentsOf: saved) == file)

        let viaPython = try python("""
            import ssl, sys, urllib.request, hashlib
            context = ssl.create_default_context(cafile=sys.argv[1])
            print(hashlib.sha256(urllib.request.urlopen(sys.argv[2], context=context).read()).hexdigest())
            """, [certificates.caFile, url])
        let expected = try python("import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
                                  [URL(fileURLWithPath: certificates.directory).appendingPathComponent("file.bin").path])
        #expect(viaPython.stdout == expected.stdout && !expected.stdout.isEmpty, "\(viaPython.stderr)")

        let sClient = try Demo.shell("""
            printf 'HEAD /file.bin HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | \
            openssl s_client -connect 127.0.0.1:\(port) -servername localhost -verify_hostname localhost \
            -CAfile '\(certificates.caFile)' -verify_return_error -alpn http/1.1 -ign_eof 2>&1
            """)
        #expect(sClient.stdout.contains("Verify return code: 0 (ok)"), "\(sClient.stdout)")
        #expect(sClient.stdout.contains("ALPN protocol: http/1.1"), "\(sClient.stdout)")
        #expect(sClient.stdout.contains("HTTP/1.1 200 OK"), "\(sClient.stdout)")
        #expect(sClient.stdout.contains("Content-Length: \(1 << 20)"), "\(sClient.stdout)")
    }

    /// Echoes 1 MiB over TLS on each of `clients` connections at once, checking every byte.
    static let pythonEchoClient = """
        import socket, ssl, sys, threading
        port, clients, cafile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
        context = ssl.create_default_context(cafile=cafile)
        results = []
        def run(seed):
            payload = bytes((i * 31 + seed) % 251 for i in range(1 << 20))
            t = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
            threading.Thread(target=lambda: t.sendall(payload)).start()
            got = bytearray()
            while len(got) < len(payload):
                chunk = t.recv(65536)
                if not chunk: break
                got += chunk
            results.append("same" if got == payload else f"differ {len(got)}")
            t.close()
        threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(" ".join(sorted(results)))
        """

    @Test("echo-server over TLS echoes 1 MiB to each of 4 Python clients, callback and async", arguments: ["callback", "async"])
    func echo(api: String) throws {
        let (server, port) = try start(["echo-server", "--api", api])
        defer { server.signal(SIGTERM) }
        let clients = try python(Self.pythonEchoClient, ["\(port)", "4", certificates.caFile])
        #expect(clients.stdout == "same same same same\n", "\(clients.stderr)")

        let sClient = try Demo.shell("""
            (printf 'hello over tls\\n'; sleep 1) | timeout 10 openssl s_client -quiet -no_ign_eof -connect 127.0.0.1:\(port) \
            -verify_hostname localhost -CAfile '\(certificates.caFile)' -verify_return_error 2>/dev/null
            """)
        #expect(sClient.stdout == "hello over tls\n")

        let client = try Demo.run(["echo-client", "--tls", "--cacert", certificates.caFile, "--host", "localhost", "--port", "\(port)", "a", "b"])
        #expect(client.status == 0, "\(client.stderr)")
        #expect(client.stdout == "a\nb\n")
    }

    @Test("a client that sends garbage is closed, one that renegotiates is refused, and the server serves on")
    func misbehavingClients() throws {
        let (server, port) = try start(["echo-server"])
        defer { server.signal(SIGTERM) }
        let garbage = try python("""
            import os, socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
            s.sendall(b"\\x16\\x03\\x01\\x00\\x10" + os.urandom(2000))
            try:
                while s.recv(4096): pass
                print("closed")
            except ConnectionResetError:
                print("closed")
            """, ["\(port)"])
        #expect(garbage.stdout == "closed\n", "\(garbage.stderr)")

        let renegotiation = try Demo.shell("""
            (printf 'before\\n'; sleep 0.5; printf 'R\\n'; sleep 1) | timeout 10 openssl s_client -tls1_2 -connect 127.0.0.1:\(port) \
            -CAfile '\(certificates.caFile)' 2>&1
            """)
        #expect(renegotiation.stdout.contains("before\n"), "\(renegotiation.stdout)")
        #expect(renegotiation.stdout.contains("RENEGOTIATING"), "\(renegotiation.stdout)")
        #expect(renegotiation.stdout.contains("no renegotiation"), "\(renegotiation.stdout)")

        let client = try Demo.run(["echo-client", "--tls", "--cacert", certificates.caFile, "--port", "\(port)", "still here"])
        #expect(client.stdout == "still here\n", "\(client.stderr)")
    }

    @Test("--tls-cert without --tls-key, an unreadable key, or --cacert without --tls are usage errors (exit 2)")
    func usage() throws {
        let lone = try Demo.run(["echo-server", "--tls-cert", certificates.server.chain])
        #expect(lone.status == 2)
        #expect(lone.stderr.contains("--tls-cert and --tls-key go together"), "\(lone.stderr)")
        let missing = try Demo.run(["serve", "--tls-cert", certificates.server.chain, "--tls-key", "/nonexistent/key.pem"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "uvdemo: load private key from /nonexistent/key.pem: no such file or directory\n", "\(missing.stderr)")
        let stray = try Demo.run(["echo-client", "--cacert", certificates.caFile, "hi"])
        #expect(stray.status == 2)
        #expect(stray.stderr.contains("--cacert, --insecure and --cert go with --tls"), "\(stray.stderr)")
    }
}
