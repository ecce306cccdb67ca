// What a TLS scanner checks, with openssl s_client as the peer: the default profile (Mozilla's
// intermediate) refuses CBC suites, static-RSA key exchange and groups outside X25519/P-256/P-384, with an
// RSA and an ECDSA certificate; `--tls-profile modern` refuses TLS 1.2. And mutual TLS both ways: a
// server that requires client certificates, and the clients that present one.
import Foundation
import Testing
import UVNetTestSupport

@Suite("TLS profiles and mutual TLS")
struct TLSPolicyDemoTests {
    let certificates: TestCertificates
    /// An RSA certificate for localhost, made by the openssl command (the test CA makes P-256 keys).
    let rsa: (chain: String, key: String)

    init() throws {
        certificates = try TestCertificates()
        rsa = (URL(fileURLWithPath: certificates.directory).appendingPathComponent("rsa.pem").path, URL(fileURLWithPath: certificates.directory).appendingPathComponent("rsa.key").path)
        let made = try Demo.shell("""
            openssl req -x509 -newkey rsa:2048 -nodes -keyout '\(rsa.key)' -out '\(rsa.chain)' -subj /CN=localhost -days 1 2>&1
            """)
        try #require(made.status == 0, "\(made.stdout)")
    }

    /// What `openssl s_client` with `options` agreed on with the server at `port`: "TLSv1.2
    /// ECDHE-RSA-CHACHA20-POLY1305", or "refused".
    private func handshake(_ port: Int, _ options: String) throws -> String {
        let probe = try Demo.shell("""
            timeout 10 openssl s_client -brief -connect 127.0.0.1:\(port) \(options) </dev/null 2>&1
            """)
        let lines = probe.stdout.split(separator: "\n")
        guard probe.status == 0,
            let version = lines.first(where: { $0.hasPrefix("Protocol version: ") })?.dropFirst(18),
            let suite = lines.first(where: { $0.hasPrefix("Ciphersuite: ") })?.dropFirst(13)
        else { return "refused" }
        return "\(version) \(suite)"
    }

    /// What comes back through `openssl s_client` with `options` after it sends "hello" (nothing when
    /// the server refuses it).
    private func echoed(_ port: Int, _ options: String) throws -> String {
        try Demo.shell("""
            (printf 'hello\\n'; sleep 1) | timeout 10 openssl s_client -quiet -no_ign_eof -connect 127.0.0.1:\(port) \
            -CAfile '\(certificates.caFile)' \(options) 2>/dev/null
            """).stdout
    }

    private func echoServer(_ chain: String, _ key: String, _ extra: [String] = []) throws -> (Demo, Int) {
        let server = try Demo(["echo-server", "--tls-cert", chain, "--tls-key", key, "--port", "0"] + extra)
        return (server, try server.listeningPort())
    }

    @Test("an RSA certificate: CBC, static RSA and X448 refused; TLS 1.3 and ECDHE-RSA-CHACHA20-POLY1305 accepted")
    func rsaDefaults() throws {
        let (server, port) = try echoServer(rsa.chain, rsa.key)
        defer { server.signal(SIGTERM) }
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES128-SHA") == "refused")
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES128-SHA256") == "refused")
        #expect(try handshake(port, "-tls1_2 -cipher AES128-GCM-SHA256") == "refused")  // static RSA
        #expect(try handshake(port, "-tls1_2 -cipher AES256-SHA") == "refused")
        #expect(try handshake(port, "-groups X448") == "refused")
        #expect(try handshake(port, "-tls1_2 -groups secp521r1") == "refused")
        #expect(try handshake(port, "-tls1_3").hasPrefix("TLSv1.3 TLS_"))
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305") == "TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305")
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384") == "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384")
    }

    @Test("an ECDSA certificate: CBC and X448 refused; TLS 1.3 and ECDHE-ECDSA-AES128-GCM-SHA256 accepted")
    func ecdsaDefaults() throws {
        let (server, port) = try echoServer(certificates.server.chain, certificates.server.key)
        defer { server.signal(SIGTERM) }
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA") == "refused")
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384") == "refused")
        #expect(try handshake(port, "-groups X448") == "refused")
        #expect(try handshake(port, "-tls1_3").hasPrefix("TLSv1.3 TLS_"))
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256") == "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256")
        #expect(try handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305") == "TLSv1.2 ECDHE-ECDSA-CHACHA20-POLY1305")
    }

    @Test("--tls-profile modern: TLS 1.2 refused, TLS 1.3 accepted")
    func modernProfile() throws {
        let (server, port) = try echoServer(certificates.server.chain, certificates.server.key, ["--tls-profile", "modern"])
        defer { server.signal(SIGTERM) }
        #expect(try handshake(port, "-tls1_2") == "refused")
        #expect(try handshake(port, "-tls1_3").hasPrefix("TLSv1.3 TLS_"))
    }

    @Test("echo-server --tls-client-ca: a client certificate from that CA is served; none, or another CA's, is refused with its reason")
    func mutualEcho() throws {
        let (server, port) = try echoServer(certificates.server.chain, certificates.server.key, ["--tls-client-ca", certificates.caFile])
        let client = try certificates.issue("client", for: ["client.test"])
        let stranger = try certificates.issue("stranger", for: ["client.test"], issuer: .unknownAuthority)
        let common = ["echo-client", "--tls", "--cacert", certificates.caFile, "--host", "localhost", "--port", "\(port)"]

        let served = try Demo.run(common + ["--cert", client.chain, "--key", client.key, "hello"])
        #expect(served.status == 0, "\(served.stderr)")
        #expect(served.stdout == "hello\n")

        // Refused certificates are an authentication failure: exit 1, the remote said no.
        let anonymous = try Demo.run(common + ["hello"])
        #expect(anonymous.status == 1)
        #expect(anonymous.stderr.contains("the server requires a client certificate"), "\(anonymous.stderr)")

        let unknown = try Demo.run(common + ["--cert", stranger.chain, "--key", stranger.key, "hello"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("the peer refused our certificate"), "\(unknown.stderr)")

        // s_client as the client, with and without a certificate, over TLS 1.2 and 1.3 alike. (Over
        // 1.3 the client's half of the handshake ends before the server checks: look for the echo.)
        for version in ["-tls1_2", "-tls1_3"] {
            #expect(try echoed(port, "\(version) -cert '\(client.chain)' -key '\(client.key)'") == "hello\n")
            #expect(try echoed(port, version) == "")
        }
        #expect(try handshake(port, "-tls1_2") == "refused")

        // A TLS 1.2 session resumes (a server that verifies clients needs a session context for that).
        let session = URL(fileURLWithPath: certificates.directory).appendingPathComponent("session").path
        let resumed = try Demo.shell("""
            identity="-tls1_2 -cert '\(client.chain)' -key '\(client.key)' -CAfile '\(certificates.caFile)'"
            eval timeout 10 openssl s_client -connect 127.0.0.1:\(port) $identity -sess_out '\(session)' </dev/null >/dev/null 2>&1
            eval timeout 10 openssl s_client -connect 127.0.0.1:\(port) $identity -sess_in '\(session)' </dev/null 2>&1
            """)
        #expect(resumed.stdout.contains("\nReused, TLSv1.2"), "\(resumed.stdout)")
        server.signal(SIGTERM)
        let log = server.wait()
        #expect(log.status == 0)
        #expect(log.stderr.contains("the client presented no certificate"), "\(log.stderr)")
        #expect(log.stderr.contains("unable to get local issuer certificate"), "\(log.stderr)")
    }

    @Test("serve --tls-client-ca with fetch --cert: served with the certificate, refused without")
    func mutualHTTPS() throws {
        let root = URL(fileURLWithPath: certificates.directory).appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("for clients we know\n".utf8).write(to: root.appendingPathComponent("note.txt"))
        let server = try Demo([
            "serve", "--root", root.path, "--port", "0", "--tls-cert", certificates.server.chain,
            "--tls-key", certificates.server.key, "--tls-client-ca", certificates.caFile,
        ])
        let port = try server.listeningPort()
        defer { server.signal(SIGTERM) }
        let client = try certificates.issue("client", for: ["client.test"])
        let url = "https://localhost:\(port)/note.txt"

        let fetched = try Demo.run(["fetch", "--cacert", certificates.caFile, "--cert", client.chain, "--key", client.key, url])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout == "for clients we know\n")

        let refused = try Demo.run(["fetch", "--cacert", certificates.caFile, url])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the server requires a client certificate"), "\(refused.stderr)")

        let curl = try Demo.shell("curl -sS --cacert '\(certificates.caFile)' --cert '\(client.chain)' --key '\(client.key)' \(url)")
        #expect(curl.stdout == "for clients we know\n", "\(curl.stderr)")
    }
}
