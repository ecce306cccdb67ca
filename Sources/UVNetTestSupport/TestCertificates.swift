// Certificates made at run time for every test that needs them: a throwaway CA and what it issues.
import Glibc
import UVNet
import UVNetTLS

/// A directory of certificates made for one test: a CA, a leaf for localhost/127.0.0.1/::1 it issued,
/// and whatever else `issue` is asked for. Removed when it goes away.
public final class TestCertificates: Sendable {
    public let directory: String
    public let authority: CertificateAuthority
    /// The CA certificate clients trust.
    public var caFile: String { directory + "/ca.pem" }
    /// The server's certificate and key, for localhost, 127.0.0.1 and ::1.
    public var certificateFile: String { directory + "/cert.pem" }
    public var keyFile: String { directory + "/key.pem" }

    public init() throws {
        var template = Array("/tmp/uvnet-tls-test.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TLSError(.configuration, operation: "make a directory") }
        directory = String(cString: made)
        authority = try CertificateAuthority(name: "UVNet test CA")
        try authority.write(certificateTo: caFile)
        try authority.issue(for: ["localhost", "127.0.0.1", "::1"]).write(certificateTo: certificateFile, privateKeyTo: keyFile)
    }

    /// The server's certificate chain and key, as `issue` returns them.
    public var server: (chain: String, key: String) { (certificateFile, keyFile) }

    /// Who signs what `issue` makes.
    public enum Issuer: Sendable {
        /// This directory's CA, which `caFile` holds.
        case testAuthority
        /// The certificate itself: self-signed.
        case itself
        /// A CA made for the one certificate, which nobody trusts.
        case unknownAuthority
    }

    /// Writes a certificate and key for `names` (valid over `validity`, signed by `issuer`) as NAME.pem
    /// and NAME.key, and returns their paths.
    public func issue(
        _ name: String, for names: [String], validity: ClosedRange<Duration> = .seconds(-3600)...(.seconds(86_400)),
        issuer: Issuer = .testAuthority
    ) throws -> (chain: String, key: String) {
        let issued = switch issuer {
        case .testAuthority: try authority.issue(for: names, validity: validity)
        case .itself: try CertificateAuthority.selfSigned(for: names)
        case .unknownAuthority: try CertificateAuthority(name: "nobody's CA").issue(for: names, validity: validity)
        }
        let paths = (directory + "/\(name).pem", directory + "/\(name).key")
        try issued.write(certificateTo: paths.0, privateKeyTo: paths.1)
        return paths
    }

    public var serverContext: TLSContext {
        get throws { try TLSContext(.server(certificateChain: certificateFile, privateKey: keyFile)) }
    }

    /// A TLS listener on 127.0.0.1, port 0, with `context` (by default, presenting this directory's
    /// certificate), and the port it got.
    public func listener(on loop: Loop, context: TLSContext? = nil) throws -> (listener: TLSListener, port: Int) {
        let tcp = try TCPListener(on: loop, address: anyLocalPort)
        return (TLSListener(tcp, context: try context ?? serverContext), try tcp.localAddress.port)
    }

    public var clientContext: TLSContext {
        get throws { try TLSContext(.client(trustRoots: .file(caFile))) }
    }

    deinit {
        Self.remove(directory)
    }

    /// Removes the directory at `path` and everything below it (a test may keep its files here too);
    /// a link is removed, never followed.
    private static func remove(_ path: String) {
        guard let entries = opendir(path) else { return }
        while let entry = readdir(entries) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name != "." && name != ".." else { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) { remove(path + "/" + name) } else { unlink(path + "/" + name) }
        }
        closedir(entries)
        rmdir(path)
    }
}
