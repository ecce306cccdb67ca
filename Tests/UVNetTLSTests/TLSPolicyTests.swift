// Mutual TLS with UVNetTLS on both ends (TLS 1.3, which both negotiate; TLS 1.2 clients are
// openssl s_client in the demo tests), and configurations that cannot work refused when the context is made.
import Testing
import UVNet
import UVNetTLS
import UVNetTestSupport

@Suite("mutual TLS and profiles")
struct TLSPolicyTests {
    /// A server requiring client certificates from the test CA, and a client presenting `identity`
    /// (or none): what each side ended with.
    private func exchange(
        presenting identity: (chain: String, key: String)?, _ certificates: TestCertificates
    ) throws -> (server: Result<String, TLSError>, client: Result<String, TLSError>) {
        var serverConfiguration = TLSConfiguration.server(
            certificateChain: certificates.certificateFile, privateKey: certificates.keyFile)
        serverConfiguration.clientCertificates = .required(trustRoots: .file(certificates.caFile))
        var clientConfiguration = TLSConfiguration.client(trustRoots: .file(certificates.caFile))
        clientConfiguration.certificateChain = identity?.chain
        clientConfiguration.privateKey = identity?.key
        let serverContext = try TLSContext(serverConfiguration)
        let clientContext = try TLSContext(clientConfiguration)
        return try withLoop { loop in
            let (server, port) = try certificates.listener(on: loop, context: serverContext)
            let served = LoopBound<Result<String, TLSError>?>(nil, on: loop)
            server.accept { accepted in
                server.close()
                // A refused handshake is an accept that failed.
                guard case .success(let connection) = accepted else {
                    if case .failure(let error as TLSError) = accepted { served.value = .failure(error) }
                    return
                }
                connection.startReading { chunk in
                    switch chunk {
                    case .success(let bytes):
                        let whom = connection.peerCertificateNames?.joined(separator: ",") ?? "nobody"
                        served.value = .success(String(decoding: bytes, as: UTF8.self) + " from " + whom)
                    case .failure(let error as TLSError): served.value = .failure(error)
                    case .failure: break
                    }
                    if case .failure = chunk { connection.close() }
                }
            }
            let client: Result<String, TLSError> = try loop.run {
                do {
                    return .success(try await TLSConnection.withConnection(host: "localhost", port: port, on: loop, context: clientContext) { connection in
                        try await connection.write(Array("who goes there".utf8))
                        try await connection.shutdown()
                        for try await _ in connection.inbound() {}
                        return "ended"
                    })
                } catch let error as TLSError {
                    return .failure(error)
                }
            }
            return (try #require(served.value), client)
        }
    }

    @Test("a client certificate from the trusted CA is accepted")
    func presented() throws {
        let certificates = try TestCertificates()
        let identity = try certificates.issue("client", for: ["client.test"])
        let (server, client) = try exchange(presenting: identity, certificates)
        #expect(try server.get() == "who goes there from client.test")
        #expect(try client.get() == "ended")
    }

    @Test("no client certificate: both sides fail with .noCertificate, each saying why")
    func missing() throws {
        let certificates = try TestCertificates()
        let (server, client) = try exchange(presenting: nil, certificates)
        #expect(throws: TLSError(.noCertificate, operation: "")) { try server.get() }
        #expect("\(server)".contains("the client presented no certificate"), "\(server)")
        #expect(throws: TLSError(.noCertificate, operation: "")) { try client.get() }
        #expect("\(client)".contains("the server requires a client certificate"), "\(client)")
    }

    @Test("a client certificate from another CA: the server refuses it as untrusted, the client hears it was refused")
    func untrusted() throws {
        let certificates = try TestCertificates()
        let identity = try certificates.issue("stranger", for: ["client.test"], issuer: .itself)
        let (server, client) = try exchange(presenting: identity, certificates)
        #expect(throws: TLSError(.untrustedCertificate, operation: "")) { try server.get() }
        #expect(throws: TLSError(.certificateRefused, operation: "")) { try client.get() }
        #expect("\(client)".contains("the peer refused our certificate"), "\(client)")
    }

    @Test("a profile OpenSSL cannot use, or client certificates vouched for by every public CA, is a configuration error")
    func unusableConfigurations() throws {
        let certificates = try TestCertificates()
        var anyPublicCA = TLSConfiguration.server(certificateChain: certificates.certificateFile, privateKey: certificates.keyFile)
        anyPublicCA.clientCertificates = .required(trustRoots: .system)
        #expect(throws: TLSError(.configuration, operation: "")) { try TLSContext(anyPublicCA) }
        var noSuites = TLSConfiguration.client()
        noSuites.profile.cipherSuites = []
        #expect(throws: TLSError(.configuration, operation: "")) { try TLSContext(noSuites) }
        var noTLS13Suites = TLSConfiguration.client()
        noTLS13Suites.profile = .modern
        noTLS13Suites.profile.tls13CipherSuites = []
        #expect(throws: TLSError(.configuration, operation: "")) { try TLSContext(noTLS13Suites) }
        var modern = TLSConfiguration.client()
        modern.profile = .modern
        #expect(throws: Never.self) { try TLSContext(modern) }
        var unknownGroup = TLSConfiguration.client()
        unknownGroup.profile.groups = ["no-such-group"]
        #expect {
            try TLSContext(unknownGroup)
        } throws: { error in
            (error as? TLSError)?.reason == .configuration && "\(error)".contains("no-such-group")
        }
    }
}
