// The certificates the tour's TLS servers present: a throwaway certificate authority and a leaf for
// the tour's host, made at run time, so that no private key ships with the program.
import UVNetTestSupport

struct TourCertificates {
    /// The CA's certificate, what the clients are told to trust (`--cacert`).
    let authority: String
    /// The servers' certificate chain and private key (`--tls-cert`, `--tls-key`).
    let certificate: String
    let key: String

    /// Writes the three PEM files into `directory`; the leaf is for `localhost` and `host`.
    init(in directory: String, host: String) throws {
        let issuer = try CertificateAuthority(name: "uvdemo tour CA")
        authority = directory + "/ca.pem"
        certificate = directory + "/cert.pem"
        key = directory + "/key.pem"
        try issuer.write(certificateTo: authority)
        try issuer.issue(for: ["localhost", host]).write(certificateTo: certificate, privateKeyTo: key)
    }

    var serverArguments: [String] { ["--tls-cert", certificate, "--tls-key", key] }
}
