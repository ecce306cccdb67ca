// What a TLS side wants: whom to trust, what to present, which protocols; secure unless told otherwise.

/// How a client or a server speaks TLS. Compile it into a `TLSContext` once and share that among
/// connections (a context loads certificates and keys once).
///
/// ```swift
/// let client = TLSConfiguration.client()                                   // system trust store
/// let server = TLSConfiguration.server(certificateChain: "cert.pem", privateKey: "key.pem")
/// ```
/// The defaults are the secure ones: the peer's chain verified against the trust roots, the host
/// name checked against the certificate, Mozilla's "intermediate" profile (`TLSProfile`: TLS 1.2 with
/// ECDHE and AEAD suites only, or TLS 1.3), no renegotiation, a 10 s handshake limit.
///
/// Mutual TLS: a server that requires client certificates verifies them against its `trustRoots`; a
/// client presents its `certificateChain` and `privateKey` when asked.
///
/// ```swift
/// var server = TLSConfiguration.server(certificateChain: "cert.pem", privateKey: "key.pem")
/// server.clientCertificates = .required(trustRoots: .file("clients-ca.pem"))
/// var client = TLSConfiguration.client(trustRoots: .file("ca.pem"))
/// client.certificateChain = "client.pem"
/// client.privateKey = "client.key"
/// ```
public struct TLSConfiguration: Sendable {
    /// Which end of the handshake this side plays.
    public enum Role: Sendable {
        /// Connects, and verifies the server.
        case client
        /// Accepts, presenting its certificate.
        case server
    }

    /// Where the certificate authorities this side trusts come from.
    public enum TrustRoots: Sendable, Hashable {
        /// The system's store: `/etc/ssl/certs` on Debian (OpenSSL's default paths; `SSL_CERT_FILE` and
        /// `SSL_CERT_DIR` override them).
        case system
        /// The PEM certificates in one file (curl's `--cacert`).
        case file(String)
        /// A directory of PEM certificates named by their hash (`openssl rehash`), as `/etc/ssl/certs`.
        case directory(String)
    }

    /// Whether the peer's certificate is checked.
    public enum Verification: Sendable, Hashable {
        /// The chain must lead to a trusted root, be valid now, and (for a client) be for the host.
        case full
        /// Nothing is checked: anyone can pretend to be the peer. For tests against throwaway
        /// certificates only; named so it stands out in review (curl's `--insecure`).
        case insecureNoVerification
    }

    /// Whether a server asks its clients for certificates.
    public enum ClientCertificates: Sendable, Hashable {
        /// Clients are not asked for one (the usual TLS).
        case notRequested
        /// Every client must present a certificate that leads to one of these roots, valid now; one that presents
        /// none, or another, is refused in the handshake (`.noCertificate`, `.untrustedCertificate`, …). The roots'
        /// names are sent to the client as the CAs accepted. A CA of your own (`.file` or `.directory`): `.system` is
        /// refused, as it would admit anyone holding a publicly issued certificate.
        case required(trustRoots: TrustRoots)
    }

    /// The protocol versions a side may accept as its minimum.
    public enum Version: Sendable, Hashable, Comparable {
        /// TLS 1.2 (RFC 5246), the oldest version UVNetTLS speaks.
        case tls1_2
        /// TLS 1.3 (RFC 8446).
        case tls1_3
    }

    /// Client or server.
    public var role: Role
    /// Whom a client trusts to vouch for servers (a server's trust is in `clientCertificates`).
    public var trustRoots: TrustRoots = .system
    /// Whether the peer's certificate is checked (`.full` unless you say otherwise).
    public var verification: Verification = .full
    /// A PEM file holding this side's certificate, then its intermediates: required for a server,
    /// optional for a client (a client certificate).
    public var certificateChain: String?
    /// A PEM file holding the private key of `certificateChain`.
    public var privateKey: String?
    /// ALPN protocol names in order of preference (`["h2", "http/1.1"]`); empty sends none.
    public var applicationProtocols: [String] = []
    /// The versions, cipher suites and groups accepted: `.intermediate` unless you choose another.
    public var profile: TLSProfile = .intermediate
    /// For a server: whether clients must present a certificate (mutual TLS). Not by default.
    public var clientCertificates: ClientCertificates = .notRequested
    /// The oldest protocol version accepted (the profile's); a peer offering only older ones is refused.
    public var minimumVersion: Version {
        get { profile.minimumVersion }
        set { profile.minimumVersion = newValue }
    }
    /// How long a handshake may take before the connection is closed with `.handshakeTimedOut`; nil
    /// waits for ever (not recommended: a peer that says nothing holds a descriptor).
    public var handshakeTimeout: Duration? = .seconds(10)

    /// The secure defaults for `role`; set what you need, or use `.client(…)` and `.server(…)`.
    public init(role: Role) {
        self.role = role
    }

    /// A client that verifies servers against `trustRoots` (the system store by default).
    public static func client(
        trustRoots: TrustRoots = .system, verification: Verification = .full, applicationProtocols: [String] = []
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration(role: .client)
        configuration.trustRoots = trustRoots
        configuration.verification = verification
        configuration.applicationProtocols = applicationProtocols
        return configuration
    }

    /// A server presenting `certificateChain` with `privateKey` (both PEM files).
    public static func server(
        certificateChain: String, privateKey: String, applicationProtocols: [String] = []
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration(role: .server)
        configuration.certificateChain = certificateChain
        configuration.privateKey = privateKey
        configuration.applicationProtocols = applicationProtocols
        return configuration
    }
}
