// Certificates for the TLS demo tests, made at run time by UVNetTLS's CertificateAuthority, and
// OpenSSL's own test server to present them: no key ships with the tests.
import Foundation
import Testing
import UVNetTLS

/// A scratch directory with a test CA (`ca.pem`, what clients trust) and a server certificate for
/// localhost and 127.0.0.1 (`server.pem`, `server.key`); `issue` makes more. Removed when released.
final class DemoCertificates: Sendable {
    let directory: URL
    private let authority: CertificateAuthority

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        authority = try CertificateAuthority(name: "uvdemo test CA")
        try authority.write(certificateTo: ca)
        _ = try issue("server", for: ["localhost", "127.0.0.1"])
    }

    var ca: String { directory.appendingPathComponent("ca.pem").path }
    var server: (chain: String, key: String) { path("server") }

    /// A certificate and key named `name` for `names`: from the test CA over `validity`, self-signed,
    /// or from a CA nobody trusts.
    func issue(
        _ name: String, for names: [String], validity: ClosedRange<Duration> = .seconds(-3600)...(.seconds(86_400)),
        issuer: Issuer = .testAuthority
    ) throws -> (chain: String, key: String) {
        let issued =
            switch issuer {
            case .testAuthority: try authority.issue(for: names, validity: validity)
            case .itself: try CertificateAuthority.selfSigned(for: names)
            case .unknownAuthority: try CertificateAuthority(name: "nobody's CA").issue(for: names)
            }
        let paths = path(name)
        try issued.write(certificateTo: paths.chain, privateKeyTo: paths.key)
        return paths
    }

    enum Issuer {
        case testAuthority, itself, unknownAuthority
    }

    private func path(_ name: String) -> (chain: String, key: String) {
        (directory.appendingPathComponent("\(name).pem").path, directory.appendingPathComponent("\(name).key").path)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// `openssl s_server -WWW`: serves the files under `root` over HTTPS (HTTP/1.0, the body ended by
/// close_notify), presenting `certificate`, on a free port of 127.0.0.1.
final class OpenSSLServer {
    let port: Int
    private let process: Demo

    init(root: URL, certificate: (chain: String, key: String), options: [String] = []) throws {
        port = try freePort()
        let command = ["openssl", "s_server", "-quiet", "-WWW", "-accept", "127.0.0.1:\(port)", "-cert", certificate.chain,
                       "-key", certificate.key] + options
        process = try Demo(["-c", "cd '\(root.path)' && exec \(command.joined(separator: " "))"], executable: "/bin/sh")
        try waitUntilListening(port: port)
    }

    /// The URL of `path` under the root, by the name the certificates are for.
    func url(_ path: String) -> String { "https://localhost:\(port)/\(path)" }

    deinit {
        process.signal(SIGTERM)
        _ = process.wait(timeout: 10)
    }
}
