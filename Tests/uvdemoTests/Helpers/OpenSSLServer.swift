// OpenSSL's own test server, to present the certificates the TLS demo tests make at run time
// (TestCertificates): no key ships with the tests.
import Foundation
import Testing

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
