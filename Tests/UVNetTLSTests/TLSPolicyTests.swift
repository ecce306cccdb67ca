// Mutual TLS with UVNetTLS on both ends, and profiles that cannot work refused when the context is made.
import Testing
import UVNet
import UVNetTLS

@Suite("mutual TLS and profiles")
struct TLSPolicyTests {
    /// A server requiring client certificates from the test CA, and a client presenting `identity`
    /// (or none) over `version`: what each side ended with.
    private func exchange(
        presenting identity: (certificate: String, key: String)?, version: TLSConfiguration.Version, _ certificates: TestCertificates
    ) throws -> (server: Result<String, TLSError>, client: Result<String, TLSError>) {
        var serverConfiguration = TLSConfiguration.server(certificateChain: certificates.certificateFile, privateKey: certificates.keyFile)
        serverConfiguration.clientCertificates = .required(trustRoots: .file(certificates.caFile))
        serverConfiguration.minimumVersion = version
        var clientConfiguration = TLSConfiguration.client(trustRoots: .file(certificates.caFile))
        clientConfiguration.certificateChain = identity?.certificate
        clientConfiguration.privateKey = identity?.key
        let serverContext = try TLSContext(serverConfiguration)
        let clientContext = try TLSContext(clientConfiguration)
        return try withLoop { loop in
            let server = TLSListener(try TCPListener(on: loop, address: anyLocalPort), context: serverContext)
            let port = try (server.listener as! TCPListener).localAddress.port
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
                    case .success(let bytes): served.value = .success(String(decoding: bytes, as: UTF8.self))
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

    @Test("a client certificate from the trusted CA is accepted", arguments: [TLSConfiguration.Version.tls1_2, .tls1_3])
    func presented(version: TLSConfiguration.Version) throws {
        let certificates = try TestCertificates()
        let identity = try certificates.issue("client", for: ["client.test"])
        let (server, client) = try exchange(presenting: identity, version: version, certificates)
        #expect(try server.get() == "who goes there")
        #expect(try client.get() == "ended")
    }

    @Test("no client certificate: both sides fail with .noCertificate, each saying why", arguments: [TLSConfiguration.Version.tls1_2, .tls1_3])
    func missing(version: TLSConfiguration.Version) throws {
        let certificates = try TestCertificates()
        let (server, client) = try exchange(presenting: nil, version: version, certificates)
        #expect(throws: TLSError(.noCertificate, operation: "")) { try server.get() }
        #expect("\(server)".contains("the client presented no certificate"), "\(server)")
        // Over TLS 1.2 the client hears only a handshake failure alert; over 1.3, which alert it was.
        if version == .tls1_3 {
            #expect(throws: TLSError(.noCertificate, operation: "")) { try client.get() }
            #expect("\(client)".contains("the server requires a client certificate"), "\(client)")
        } else {
            #expect(throws: TLSError.self) { try client.get() }
        }
    }

    @Test("a client certificate from another CA: the server refuses it as untrusted, the client hears so")
    func untrusted() throws {
        let certificates = try TestCertificates()
        let identity = try certificates.issue("stranger", for: ["client.test"], selfSigned: true)
        let (server, client) = try exchange(presenting: identity, version: .tls1_3, certificates)
        #expect(throws: TLSError(.untrustedCertificate, operation: "")) { try server.get() }
        #expect(throws: TLSError(.untrustedCertificate, operation: "")) { try client.get() }
        #expect("\(client)".contains("the peer refused our certificate"), "\(client)")
    }

    @Test("a profile OpenSSL cannot use is a configuration error naming what")
    func unusableProfiles() {
        var noSuites = TLSConfiguration.client()
        noSuites.profile.cipherSuites = []
        #expect(throws: TLSError(.configuration, operation: "")) { try TLSContext(noSuites) }
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
