// A configuration compiled into OpenSSL's SSL_CTX: files loaded once, shared by every connection on any loop.
import COpenSSL
import Glibc

/// A `TLSConfiguration` made ready for use: files read, keys checked, trust roots found. Make one per
/// configuration and share it; every connection made with it starts from it.
///
/// ```swift
/// let context = try TLSContext(.server(certificateChain: "cert.pem", privateKey: "key.pem"))
/// ```
/// Throws `TLSError` with reason `.configuration` naming the file and what is wrong with it.
public final class TLSContext: @unchecked Sendable {  // no stored property changes after init; what SSL_new changes in the SSL_CTX (its reference count, session cache) OpenSSL changes under the context's own lock, taken on every call
    /// What the context was made from.
    public let configuration: TLSConfiguration
    /// The SSL_CTX.
    let raw: OpaquePointer
    /// The ALPN list in wire format (length-prefixed names), for the server's selection callback.
    private let protocolList: UnsafeMutableBufferPointer<UInt8>

    /// The corresponding C functions are `SSL_CTX_new`, `SSL_CTX_use_certificate_chain_file`,
    /// `SSL_CTX_use_PrivateKey_file`, `SSL_CTX_load_verify_locations` and `SSL_CTX_set_alpn_protos`.
    public init(_ configuration: TLSConfiguration) throws(TLSError) {
        self.configuration = configuration
        clearOpenSSLErrors()
        let method = configuration.role == .client ? TLS_client_method() : TLS_server_method()
        raw = try openSSLMade(SSL_CTX_new(method), "create TLS context")
        protocolList = TLSContext.wireFormat(configuration.applicationProtocols)
        // Every stored property is set: if this throws, deinit frees them.
        try configure()
    }

    deinit {
        SSL_CTX_free(raw)
        protocolList.deallocate()
    }

    private func configure() throws(TLSError) {
        try applyProfile()
        cssl_ctx_refuse_renegotiation_and_compression(raw)
        // SSL_write may return after each record (partial writes on), and the session's write loops
        // until all is taken; the output buffer is a memory BIO that grows, so nothing waits on it.
        cssl_ctx_set_mode(raw, Int(SSL_MODE_ENABLE_PARTIAL_WRITE) | Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        try loadIdentity()
        switch configuration.role {
        case .client:
            if configuration.verification == .full {
                try load(configuration.trustRoots)
                SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, cssl_verify_keeping_names)
            } else {
                SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nil)
            }
            if !protocolList.isEmpty {
                try openSSLCheck(
                    SSL_CTX_set_alpn_protos(raw, protocolList.baseAddress, UInt32(protocolList.count)), "set ALPN protocols",
                    reason: .configuration, success: .zero, fallback: "bad protocol names")
            }
        case .server:
            guard configuration.certificateChain != nil, configuration.privateKey != nil else {
                throw TLSError(.configuration, operation: "create TLS server context", detail: "a server needs a certificate chain and a private key")
            }
            try resumeOnlyHere()
            if case .required(let roots) = configuration.clientCertificates {
                try requireClientCertificates(from: roots)
            }
            if !protocolList.isEmpty {
                // Unretained: every connection holds its context, so the context outlives each callback.
                SSL_CTX_set_alpn_select_cb(raw, TLSContext.selectProtocol, Unmanaged.passUnretained(self).toOpaque())
            }
        }
    }

    /// The certificate chain and private key this side presents, if any.
    private func loadIdentity() throws(TLSError) {
        guard let chain = configuration.certificateChain else { return }
        guard let key = configuration.privateKey else {
            throw TLSError(.configuration, operation: "load certificate chain from", target: chain, detail: "no private key given for it")
        }
        try TLSContext.checkReadable(chain, "load certificate chain from")
        try openSSLCheck(SSL_CTX_use_certificate_chain_file(raw, chain), "load certificate chain from", target: chain, reason: .configuration)
        try TLSContext.checkReadable(key, "load private key from")
        try openSSLCheck(SSL_CTX_use_PrivateKey_file(raw, key, SSL_FILETYPE_PEM), "load private key from", target: key, reason: .configuration)
        try openSSLCheck(SSL_CTX_check_private_key(raw), "load private key from", target: key, reason: .configuration)
    }

    /// The versions, suites and groups of the configuration's profile.
    /// The corresponding C functions are `SSL_CTX_set_min_proto_version`, `SSL_CTX_set_cipher_list`,
    /// `SSL_CTX_set_ciphersuites` and `SSL_CTX_set1_groups_list`.
    private func applyProfile() throws(TLSError) {
        let profile = configuration.profile
        let minimum = profile.minimumVersion == .tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION
        try openSSLCheck(cssl_ctx_set_min_version(raw, minimum), "set the minimum TLS version")
        let suites = profile.cipherSuites.joined(separator: ":")
        if suites.isEmpty {
            guard profile.minimumVersion == .tls1_3 else {
                throw TLSError(
                    .configuration, operation: "set the TLS 1.2 cipher suites",
                    detail: "none given: set minimumVersion to .tls1_3, or name some")
            }
        } else {
            try openSSLCheck(
                SSL_CTX_set_cipher_list(raw, suites), "set the TLS 1.2 cipher suites", target: suites,
                reason: .configuration)
        }
        let tls13Suites = profile.tls13CipherSuites.joined(separator: ":")
        guard !tls13Suites.isEmpty else {
            throw TLSError(.configuration, operation: "set the TLS 1.3 cipher suites", detail: "none given")
        }
        try openSSLCheck(
            SSL_CTX_set_ciphersuites(raw, tls13Suites), "set the TLS 1.3 cipher suites", target: tls13Suites,
            reason: .configuration)
        let groups = profile.groups.joined(separator: ":")
        try openSSLCheck(
            cssl_ctx_set_groups(raw, groups), "set the key-exchange groups", target: groups, reason: .configuration)
    }

    /// Sessions resume only with the context that made them: a session ID context of its own, random.
    /// A server that verifies clients needs one, or OpenSSL refuses every resumption outright instead
    /// of making a full handshake. The corresponding C function is `SSL_CTX_set_session_id_context`.
    private func resumeOnlyHere() throws(TLSError) {
        var identity = [UInt8](repeating: 0, count: Int(SSL_MAX_SID_CTX_LENGTH))
        try openSSLCheck(RAND_bytes(&identity, Int32(identity.count)), "generate random bytes")
        try openSSLCheck(
            SSL_CTX_set_session_id_context(raw, identity, UInt32(identity.count)), "set the session context")
    }

    /// Mutual TLS: every client must present a certificate leading to `roots` (named in the request, so a client with
    /// several can pick). The system's store is refused: it would admit any publicly issued certificate. The
    /// corresponding C functions are `SSL_CTX_set_verify`, `SSL_load_client_CA_file` and `SSL_CTX_set_client_CA_list`.
    private func requireClientCertificates(from roots: TLSConfiguration.TrustRoots) throws(TLSError) {
        switch roots {
        case .system:
            throw TLSError(
                .configuration, operation: "require client certificates",
                detail: "name a CA of your own (.file or .directory): the system's store trusts every public CA")
        case .file(let path):
            try load(roots)
            let names = try openSSLMade(
                SSL_load_client_CA_file(path), "load client CA names from", target: path, reason: .configuration)
            SSL_CTX_set_client_CA_list(raw, names)
        case .directory:
            try load(roots)  // a hashed directory is read as needed: its names are not listed up front
        }
        SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, cssl_verify_keeping_names)
    }

    private func load(_ roots: TLSConfiguration.TrustRoots) throws(TLSError) {
        switch roots {
        case .system:
            try openSSLCheck(SSL_CTX_set_default_verify_paths(raw), "load the system's trust roots", reason: .configuration)
        case .file(let path):
            try TLSContext.checkReadable(path, "load trust roots from")
            try openSSLCheck(SSL_CTX_load_verify_locations(raw, path, nil), "load trust roots from", target: path, reason: .configuration)
        case .directory(let path):
            try TLSContext.checkReadable(path, "load trust roots from")
            try openSSLCheck(SSL_CTX_load_verify_locations(raw, nil, path), "load trust roots from", target: path, reason: .configuration)
        }
    }

    /// OpenSSL says only "system lib" for a file it cannot open: say what the system said.
    private static func checkReadable(_ path: String, _ operation: String) throws(TLSError) {
        try posixCheck(Int(access(path, R_OK)), operation, target: path)
    }

    /// ALPN names as the wire carries them: each prefixed by its length.
    private static func wireFormat(_ names: [String]) -> UnsafeMutableBufferPointer<UInt8> {
        let bytes = names.filter { !$0.isEmpty && $0.utf8.count < 256 }.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buffer.initialize(from: bytes)
        return buffer
    }

    /// The server's ALPN choice: its first preference the client offers too; none in common goes on
    /// without ALPN (as nginx does) and the application decides.
    private static let selectProtocol: @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> CInt = { _, selected, selectedLength, offered, offeredLength, context in
        let ours = Unmanaged<TLSContext>.fromOpaque(context!).takeUnretainedValue().protocolList
        var choice: UnsafeMutablePointer<UInt8>?
        var choiceLength: UInt8 = 0
        let outcome = SSL_select_next_proto(&choice, &choiceLength, ours.baseAddress, UInt32(ours.count), offered, offeredLength)
        guard outcome == OPENSSL_NPN_NEGOTIATED, let choice else { return SSL_TLSEXT_ERR_NOACK }
        selected?.pointee = UnsafePointer(choice)
        selectedLength?.pointee = choiceLength
        return SSL_TLSEXT_ERR_OK
    }
}
