// Which protocol versions, cipher suites and key-exchange groups a side accepts: Mozilla's
// "intermediate" profile unless told otherwise, "modern" by name, or any list of your own.

/// The versions, cipher suites and groups a TLS side accepts (and, as a client, offers).
///
/// The default, `.intermediate`, is Mozilla's "intermediate" server profile (ssl-config.mozilla.org,
/// guidelines 5.7) without DHE: TLS 1.2 with ECDHE key exchange and AES-GCM or ChaCha20-Poly1305 only
/// (forward secrecy, no CBC, no static RSA), every TLS 1.3 suite, and the groups X25519, P-256 and P-384.
/// `.modern` is TLS 1.3 alone. Set your own lists when a peer needs them:
///
/// ```swift
/// var configuration = TLSConfiguration.server(certificateChain: "cert.pem", privateKey: "key.pem")
/// configuration.profile = .modern                       // TLS 1.3 only
/// configuration.profile.groups = ["X25519"]             // or change one list
/// ```
/// Names are OpenSSL's (`openssl ciphers -v`, `openssl list -tls1_3 -cipher-algorithms`); a list
/// none of whose names OpenSSL knows fails `TLSContext`'s init with a `.configuration` error.
public struct TLSProfile: Sendable, Hashable {
    /// The oldest protocol version accepted; a peer offering only older ones is refused.
    public var minimumVersion: TLSConfiguration.Version
    /// The TLS 1.2 cipher suites, in order of preference (OpenSSL names, `ECDHE-ECDSA-AES128-GCM-SHA256`).
    /// Empty only with `minimumVersion` `.tls1_3`.
    public var cipherSuites: [String]
    /// The TLS 1.3 cipher suites, in order of preference (`TLS_AES_128_GCM_SHA256`).
    public var tls13CipherSuites: [String]
    /// The key-exchange groups, in order of preference (`X25519`, `P-256`, `P-384`).
    public var groups: [String]

    /// A profile of your own.
    public init(
        minimumVersion: TLSConfiguration.Version, cipherSuites: [String], tls13CipherSuites: [String], groups: [String]
    ) {
        self.minimumVersion = minimumVersion
        self.cipherSuites = cipherSuites
        self.tls13CipherSuites = tls13CipherSuites
        self.groups = groups
    }

    /// Mozilla's "intermediate" without DHE (see the type): what every configuration starts with.
    public static let intermediate = TLSProfile(
        minimumVersion: .tls1_2,
        cipherSuites: [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
            "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
            "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        ],
        tls13CipherSuites: allTLS13CipherSuites,
        groups: ["X25519", "P-256", "P-384"])

    /// Mozilla's "modern": TLS 1.3 only, for services whose clients are all recent.
    public static let modern = TLSProfile(
        minimumVersion: .tls1_3, cipherSuites: [], tls13CipherSuites: allTLS13CipherSuites,
        groups: ["X25519", "P-256", "P-384"])

    private static let allTLS13CipherSuites = [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    ]
}
