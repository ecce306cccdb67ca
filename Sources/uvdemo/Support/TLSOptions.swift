// The TLS options the demos share: a server's certificate, key, profile and client CA; a client's trust
// and certificate.
import ArgumentParser
import UVNetTLS

/// `--tls-cert FILE --tls-key FILE`: serve over TLS with this certificate chain and key (PEM).
struct TLSServerOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: "Serve over TLS with this certificate chain (PEM; with --tls-key).")
    var certificate: String?
    @Option(name: .customLong("tls-key"), help: "The private key of --tls-cert (PEM).")
    var key: String?
    @Option(
        name: .customLong("tls-client-ca"), help: "Require client certificates issued by the CAs in this PEM file (mutual TLS).")
    var clientCA: String?
    @Option(
        name: .customLong("tls-profile"),
        help: "intermediate (TLS 1.2 with ECDHE and AEAD suites, or 1.3; the default) or modern (TLS 1.3 only).")
    var profile: TLSProfileName?

    var isEnabled: Bool { certificate != nil }

    func validate() throws {
        guard (certificate == nil) == (key == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard isEnabled || (clientCA == nil && profile == nil) else {
            throw ValidationError("--tls-client-ca and --tls-profile go with --tls-cert")
        }
    }

    /// The server context, or nil without TLS; a file that cannot be used is a usage error (exit 2).
    func context(applicationProtocols: [String] = []) throws(DemoFailure) -> TLSContext? {
        guard let certificate, let key else { return nil }
        var configuration = TLSConfiguration.server(
            certificateChain: certificate, privateKey: key, applicationProtocols: applicationProtocols)
        configuration.profile = profile?.profile ?? .intermediate
        if let clientCA { configuration.clientCertificates = .required(trustRoots: .file(clientCA)) }
        do {
            return try TLSContext(configuration)
        } catch {
            throw .network(error)
        }
    }

    /// The options again, for a command line (a pre-fork worker's).
    var arguments: [String] {
        guard let certificate, let key else { return [] }
        return ["--tls-cert", certificate, "--tls-key", key]
            + (profile.map { ["--tls-profile", $0.rawValue] } ?? []) + (clientCA.map { ["--tls-client-ca", $0] } ?? [])
    }
}

/// The profiles a demo server can be asked for by name.
enum TLSProfileName: String, ExpressibleByArgument, CaseIterable {
    case intermediate, modern

    var profile: TLSProfile { self == .modern ? .modern : .intermediate }
}

/// `--cacert FILE` and `--insecure`, as curl has them: whom a TLS client trusts.
struct TLSClientOptions: ParsableArguments {
    @Option(help: "Trust the certificate authorities in this PEM file instead of the system's.")
    var cacert: String?
    @Flag(name: [.customShort("k"), .long], help: "Do not verify the server's certificate (for tests only: anyone can pretend to be the server).")
    var insecure = false
    @Option(help: "Present this client certificate chain (PEM; with --key) to a server that asks for one.")
    var cert: String?
    @Option(help: "The private key of --cert (PEM).")
    var key: String?

    func validate() throws {
        guard (cert == nil) == (key == nil) else { throw ValidationError("--cert and --key go together") }
    }

    /// Whether any of these options was given.
    var isGiven: Bool { cacert != nil || insecure || cert != nil }

    /// The client configuration these options ask for.
    func configuration(applicationProtocols: [String] = []) -> TLSConfiguration {
        var configuration = TLSConfiguration.client(
            trustRoots: cacert.map { .file($0) } ?? .system, verification: insecure ? .insecureNoVerification : .full,
            applicationProtocols: applicationProtocols)
        configuration.certificateChain = cert
        configuration.privateKey = key
        return configuration
    }

    /// The client context; a CA file that cannot be used is a usage error (exit 2).
    func context(applicationProtocols: [String] = []) throws(DemoFailure) -> TLSContext {
        do {
            return try TLSContext(configuration(applicationProtocols: applicationProtocols))
        } catch {
            throw .network(error)
        }
    }
}
