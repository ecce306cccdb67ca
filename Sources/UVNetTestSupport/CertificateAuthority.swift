// A throwaway certificate authority made in memory: certificates for tests, demos and development
// servers, so that no private key has to ship with them.
import COpenSSL
import Glibc
@_spi(OpenSSLChecks) import UVNetTLS

/// A certificate authority made on the spot (a P-256 key and a self-signed CA certificate), for
/// tests, demos and development: trust its certificate on the client, serve what it issues.
///
/// ```swift
/// let authority = try CertificateAuthority()
/// let leaf = try authority.issue(for: ["localhost", "127.0.0.1", "::1"])
/// try leaf.write(certificateTo: "/tmp/cert.pem", privateKeyTo: "/tmp/key.pem")   // key file mode 0600
/// try authority.write(certificateTo: "/tmp/ca.pem")                               // for TrustRoots.file
/// ```
/// Never use one for production: its key lives only in this process, and nothing revokes what it issued.
public final class CertificateAuthority: @unchecked Sendable {  // `key` and `certificate` are used only while holding `signing`
    private let key: OpaquePointer
    private let certificate: OpaquePointer
    /// Held while OpenSSL reads the key and certificate to sign, so issuing from several threads is safe.
    private let signing: UnsafeMutablePointer<pthread_mutex_t> = .allocate(capacity: 1)
    /// The CA's certificate, PEM.
    public let certificatePEM: String

    /// A new authority called `name`, valid from an hour ago for `lifetime`.
    public init(name: String = "UVNet throwaway CA", lifetime: Duration = .seconds(86_400)) throws(TLSError) {
        clearOpenSSLErrors()
        let key = try openSSLMade(cssl_generate_p256_key(), "generate a key")
        let certificate: OpaquePointer
        do {
            certificate = try CertificateAuthority.makeCertificate(
                commonName: name, key: key, issuer: nil, issuerKey: key, validity: .seconds(-3600)...lifetime,
                extensions: [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign"),
                             (NID_subject_key_identifier, "hash")])
        } catch {
            EVP_PKEY_free(key)
            throw error
        }
        self.key = key
        self.certificate = certificate
        pthread_mutex_init(signing, nil)
        certificatePEM = try CertificateAuthority.pem { PEM_write_bio_X509($0, certificate) }
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
        pthread_mutex_destroy(signing)
        signing.deallocate()
    }

    /// A certificate and its new private key for `names` (host names and IP addresses), valid over
    /// `validity` measured from now (an expired one for a test: `.seconds(-7200)...(.seconds(-3600))`).
    public func issue(for names: [String], validity: ClosedRange<Duration> = .seconds(-3600)...(.seconds(86_400)))
        throws(TLSError) -> IssuedCertificate
    {
        pthread_mutex_lock(signing)
        defer { pthread_mutex_unlock(signing) }
        return try CertificateAuthority.issue(for: names, validity: validity, issuer: certificate, issuerKey: key)
    }

    /// A self-signed certificate for `names`: what a server shows when nobody vouches for it.
    public static func selfSigned(for names: [String]) throws(TLSError) -> IssuedCertificate {
        try issue(for: names, validity: .seconds(-3600)...(.seconds(86_400)), issuer: nil, issuerKey: nil)
    }

    /// Writes the CA's certificate (PEM) to `path`.
    public func write(certificateTo path: String) throws(TLSError) {
        try IssuedCertificate.write(certificatePEM, to: path, mode: 0o644)
    }

    private static func issue(
        for names: [String], validity: ClosedRange<Duration>, issuer: OpaquePointer?, issuerKey: OpaquePointer?
    ) throws(TLSError) -> IssuedCertificate {
        clearOpenSSLErrors()
        let key = try openSSLMade(cssl_generate_p256_key(), "generate a key")
        defer { EVP_PKEY_free(key) }
        let alternativeNames = names.map { name in
            name.contains(":") || name.allSatisfy({ $0.isNumber || $0 == "." }) ? "IP:\(name)" : "DNS:\(name)"
        }
        let certificate = try makeCertificate(
            commonName: names.first ?? "localhost", key: key, issuer: issuer, issuerKey: issuerKey ?? key, validity: validity,
            extensions: [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                         (NID_ext_key_usage, "serverAuth,clientAuth"), (NID_subject_alt_name, alternativeNames.joined(separator: ","))])
        defer { X509_free(certificate) }
        return IssuedCertificate(
            certificatePEM: try pem { PEM_write_bio_X509($0, certificate) },
            privateKeyPEM: try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) })
    }

    /// A certificate for `key` signed by `issuerKey` (self-signed when `issuer` is nil).
    /// The corresponding C functions are `X509_new`, `X509_gmtime_adj`, `X509V3_EXT_conf_nid` and `X509_sign`.
    private static func makeCertificate(
        commonName: String, key: OpaquePointer, issuer: OpaquePointer?, issuerKey: OpaquePointer,
        validity: ClosedRange<Duration>, extensions: [(CInt, String)]
    ) throws(TLSError) -> OpaquePointer {
        let operation = "make a certificate for"
        let certificate = try openSSLMade(X509_new(), operation, target: commonName)
        do throws(TLSError) {
            try openSSLCheck(X509_set_version(certificate, 2), operation, target: commonName)
            var random = [UInt8](repeating: 0, count: 8)
            try openSSLCheck(RAND_bytes(&random, Int32(random.count)), "generate random bytes")
            let serial = random.reduce(0) { $0 << 8 | Int($1) } & Int.max
            try openSSLCheck(ASN1_INTEGER_set(X509_get_serialNumber(certificate), serial), operation, target: commonName)
            _ = try openSSLMade(X509_gmtime_adj(X509_getm_notBefore(certificate), Int(validity.lowerBound.components.seconds)), operation, target: commonName)
            _ = try openSSLMade(X509_gmtime_adj(X509_getm_notAfter(certificate), Int(validity.upperBound.components.seconds)), operation, target: commonName)
            try openSSLCheck(X509_set_pubkey(certificate, key), operation, target: commonName)
            let subject = X509_get_subject_name(certificate)
            try openSSLCheck(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, commonName, -1, -1, 0), operation, target: commonName)
            try openSSLCheck(X509_set_issuer_name(certificate, issuer.map { X509_get_subject_name($0) } ?? subject), operation, target: commonName)
            for (nid, value) in extensions {
                try openSSLCheck(cssl_add_extension(certificate, issuer ?? certificate, nid, value), operation, target: commonName)
            }
            try openSSLCheck(X509_sign(certificate, issuerKey, EVP_sha256()), operation, target: commonName, success: .positive)
            return certificate
        } catch {
            X509_free(certificate)
            throw error
        }
    }

    /// What `write` puts into a memory BIO, as text.
    private static func pem(_ write: (OpaquePointer) -> CInt) throws(TLSError) -> String {
        let bio = try openSSLMade(BIO_new(BIO_s_mem()), "write PEM")
        defer { BIO_free(bio) }
        try openSSLCheck(write(bio), "write PEM")
        var bytes: UnsafeMutablePointer<CChar>?
        let count = cssl_bio_contents(bio, &bytes)
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : count), as: UTF8.self)
    }
}

/// A certificate and its private key, as PEM text. Printing it shows the certificate only.
public struct IssuedCertificate: Sendable, CustomStringConvertible {
    /// The certificate, PEM-encoded.
    public let certificatePEM: String
    /// Secret: written only to files only their owner reads.
    public let privateKeyPEM: String

    /// Writes the certificate to `certificatePath` and the key to `keyPath` (mode 0600, also when the
    /// file was there before; a symbolic link at either path is refused).
    public func write(certificateTo certificatePath: String, privateKeyTo keyPath: String) throws(TLSError) {
        try IssuedCertificate.write(certificatePEM, to: certificatePath, mode: 0o644)
        try IssuedCertificate.write(privateKeyPEM, to: keyPath, mode: 0o600)
    }

    public var description: String { "IssuedCertificate(certificate: \(certificatePEM.utf8.count) bytes of PEM, private key: hidden)" }

    static func write(_ text: String, to path: String, mode: mode_t) throws(TLSError) {
        // No following a link someone planted; the mode set before any byte goes in, since open's
        // mode applies only to a file it creates.
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        try posixCheck(Int(descriptor), "write", target: path)
        defer { close(descriptor) }
        try posixCheck(Int(fchmod(descriptor, mode)), "write", target: path)
        let bytes = Array(text.utf8)
        try posixCheck(bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }, expected: bytes.count, "write", target: path)
    }
}
