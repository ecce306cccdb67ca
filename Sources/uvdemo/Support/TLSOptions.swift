// The TLS options the demos share: a server's certificate and key, a client's trust.
import ArgumentParser
import UVNetTLS

/// `--tls-cert FILE --tls-key FILE`: serve over TLS with this certificate chain and key (PEM).
struct TLSServerOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: "Serve over TLS with this certificate chain (PEM; with --tls-key).")
    var certificate: String?
    @Option(name: .customLong("tls-key"), help: "The private key of --tls-cert (PEM).")
    var key: String?

    var isEnabled: Bool { certificate != nil }

    func validate() throws {
        guard (certificate == nil) == (key == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    }

    /// The server context, or nil without TLS; a file that cannot be used is a usage error (exit 2).
    func context(applicationProtocols: [String] = []) throws(DemoFailure) -> TLSContext? {
        guard let certificate, let key else { return nil }
        do {
            return try TLSContext(.server(certificateChain: certificate, privateKey: key, applicationProtocols: applicationProtocols))
        } catch {
            throw .network(error)
        }
    }

    /// The options again, for a command line (a pre-fork worker's).
    var arguments: [String] {
        guard let certificate, let key else { return [] }
        return ["--tls-cert", certificate, "--tls-key", key]
    }
}

/// `--cacert FILE` and `--insecure`, as curl has them: whom a TLS client trusts.
struct TLSClientOptions: ParsableArguments {
    @Option(help: "Trust the certificate authorities in this PEM file instead of the system's.")
    var cacert: String?
    @Flag(name: [.customShort("k"), .long], help: "Do not verify the server's certificate (for tests only: anyone can pretend to be the server).")
    var insecure = false

    /// The client configuration these options ask for.
    func configuration(applicationProtocols: [String] = []) -> TLSConfiguration {
        .client(
            trustRoots: cacert.map { .file($0) } ?? .system, verification: insecure ? .insecureNoVerification : .full,
            applicationProtocols: applicationProtocols)
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
