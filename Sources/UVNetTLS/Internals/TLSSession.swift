// One connection's OpenSSL state: an SSL object between two memory BIOs, ciphertext in and out of them, plaintext
// through SSL_read and SSL_write; no socket is touched here (as in Node's TLSWrap and uvloop's SSLProtocol).
import COpenSSL

final class TLSSession {
    /// The SSL object; it owns both BIOs.
    private let ssl: OpaquePointer
    /// Ciphertext received, waiting for OpenSSL.
    private let fromNetwork: OpaquePointer
    /// Ciphertext OpenSSL produced, waiting for the socket.
    private let toNetwork: OpaquePointer
    /// Holds the SSL_CTX (and the callbacks' state in it) alive as long as this session.
    private let context: TLSContext

    /// What a step of the handshake, a read or a write came to.
    enum Outcome {
        /// Done (a handshake complete, a write encrypted).
        case done
        /// `count` bytes of plaintext were read.
        case read(Int)
        /// OpenSSL needs more ciphertext from the peer.
        case wantsMore
        /// The peer sent close_notify: its side of the stream has ended cleanly.
        case closed
        case failed(TLSError)
    }

    /// The corresponding C functions are `SSL_new`, `BIO_new(BIO_s_mem())` and `SSL_set_bio`.
    init(context: TLSContext, serverName: String?) throws(TLSError) {
        clearOpenSSLErrors()
        self.context = context
        ssl = try openSSLMade(SSL_new(context.raw), "create TLS connection")
        let fromNetwork = BIO_new(BIO_s_mem())
        let toNetwork = BIO_new(BIO_s_mem())
        guard let fromNetwork, let toNetwork else {
            BIO_free(fromNetwork)
            BIO_free(toNetwork)
            SSL_free(ssl)
            throw openSSLError(.internalError, "create TLS connection")
        }
        cssl_bio_retry_when_empty(fromNetwork)
        cssl_bio_retry_when_empty(toNetwork)
        SSL_set_bio(ssl, fromNetwork, toNetwork)
        self.fromNetwork = fromNetwork
        self.toNetwork = toNetwork
        let verifies = context.configuration.role == .client && context.configuration.verification == .full
        mismatchedNames = verifies ? .allocate(capacity: Int(CSSL_NAMES_CAPACITY)) : nil
        mismatchedNames?.initialize(to: 0)
        // The context's verify callback writes here (see cssl_verify_keeping_names). Slot 0 is the
        // one SSL_set_app_data uses, which nothing else here does; the buffer outlives the SSL (deinit).
        SSL_set_ex_data(ssl, 0, mismatchedNames)
        // Every stored property is set: if this throws, deinit frees them.
        if context.configuration.role == .client {
            SSL_set_connect_state(ssl)
            if let serverName {
                try expect(serverName)
            } else if verifies {
                // A chain that leads to a trusted root proves nothing about whom it belongs to.
                throw TLSError(.configuration, operation: "create TLS connection",
                               detail: "a client that verifies the server needs the server's name (serverName)")
            }
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_free(ssl)
        mismatchedNames?.deallocate()
    }

    /// The names of a certificate that failed the host check, for the error: OpenSSL forgets such a certificate.
    private let mismatchedNames: UnsafeMutablePointer<CChar>?

    /// A client checks the certificate against `serverName`: a host name (sent as SNI too) or an IP address (checked
    /// against the certificate's IP addresses; SNI carries names only). The corresponding C functions are
    /// `SSL_set1_host`, `SSL_set_hostflags`, `X509_VERIFY_PARAM_set1_ip_asc` and `SSL_set_tlsext_host_name`.
    private func expect(_ serverName: String) throws(TLSError) {
        let name = serverName.hasPrefix("[") && serverName.hasSuffix("]") ? String(serverName.dropFirst().dropLast()) : serverName
        let isAddress = openSSLSucceeded(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name))
        clearOpenSSLErrors()  // the address parse fails for every host name: not an error
        guard !isAddress else { return }
        try openSSLCheck(SSL_set1_host(ssl, name), "set the expected host name", target: name)
        // A wildcard stands for one whole label (no "w*.example.com"), and a certificate without DNS
        // names is not taken at its subject's word, as browsers have it.
        SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT))
        try openSSLCheck(cssl_set_server_name(ssl, name), "set the server name (SNI)", target: name)
    }

    // MARK: Ciphertext in and out

    /// Copies ciphertext from the peer into OpenSSL's input BIO. The corresponding C function is `BIO_write`.
    func receive(_ ciphertext: UnsafeRawBufferPointer) -> Bool {
        guard let base = ciphertext.baseAddress, !ciphertext.isEmpty else { return true }
        return BIO_write(fromNetwork, base, Int32(ciphertext.count)) == Int32(ciphertext.count)
    }

    /// Drains the ciphertext waiting for the socket through `staging`, handing `body` each piece and whether it is the
    /// last; `body` must be done with it (a stream write copies what the kernel does not take) before it returns. Does
    /// nothing when none waits. (Not lent from the BIO in place: emptying a memory BIO clears its whole capacity, some
    /// 64 KiB, on every message.) The corresponding C function is `BIO_read`.
    func takeOutput(through staging: UnsafeMutableRawBufferPointer, _ body: (UnsafeRawBufferPointer, _ isLast: Bool) -> Void) {
        while true {
            guard let count = openSSLProgress(BIO_read(toNetwork, staging.baseAddress, Int32(clamping: staging.count))) else { return }
            body(UnsafeRawBufferPointer(start: staging.baseAddress, count: count), !hasOutput)
        }
    }

    /// Whether ciphertext waits for the socket.
    var hasOutput: Bool { BIO_ctrl_pending(toNetwork) > 0 }

    /// Whether received ciphertext (or decrypted bytes) wait for `read`.
    var hasInput: Bool { BIO_ctrl_pending(fromNetwork) > 0 || SSL_pending(ssl) > 0 }

    // MARK: The TLS operations

    /// Advances the handshake with the ciphertext received so far. The corresponding C function is `SSL_do_handshake`.
    func handshake() -> Outcome {
        clearOpenSSLErrors()
        let rc = SSL_do_handshake(ssl)
        return openSSLProgress(rc) != nil ? .done : outcome(of: rc, during: "TLS handshake with")
    }

    /// Decrypts into `buffer`. The corresponding C function is `SSL_read`.
    @inline(__always)
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Outcome {
        clearOpenSSLErrors()
        let rc = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        return openSSLProgress(rc).map { .read($0) } ?? outcome(of: rc, during: "read from")
    }

    /// Encrypts `plaintext` whole into the output buffer. The corresponding C function is `SSL_write`.
    @inline(__always)
    func write(_ plaintext: UnsafeRawBufferPointer) -> Outcome {
        var rest = plaintext
        while let base = rest.baseAddress, !rest.isEmpty {
            clearOpenSSLErrors()
            let rc = SSL_write(ssl, base, Int32(clamping: rest.count))
            guard let written = openSSLProgress(rc) else {
                // A memory BIO takes everything and renegotiation is off, so only a failure stops a
                // write; should OpenSSL ever say otherwise, the rest must not be dropped quietly.
                if case .failed(let error) = outcome(of: rc, during: "write to") { return .failed(error) }
                return .failed(TLSError(.internalError, operation: "write to", detail: "OpenSSL took \(plaintext.count - rest.count) of \(plaintext.count) bytes"))
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[written...])
        }
        return .done
    }

    /// Queues close_notify in the output buffer. The corresponding C function is `SSL_shutdown`.
    func sendCloseNotify() {
        clearOpenSSLErrors()
        _ = SSL_shutdown(ssl)
        clearOpenSSLErrors()  // after a fatal error there is nothing to say
    }

    private func outcome(of rc: CInt, during operation: String) -> Outcome {
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantsMore
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        default:
            return .failed(failure(during: operation))
        }
    }

    // MARK: What was negotiated

    /// The ALPN protocol both sides chose, if any. The corresponding C function is `SSL_get0_alpn_selected`.
    var negotiatedProtocol: String? {
        var name: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &name, &length)
        guard let name, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: name, count: Int(length)), as: UTF8.self)
    }

    /// "TLSv1.3", "TLSv1.2". The corresponding C function is `SSL_get_version`.
    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The cipher suite in OpenSSL's naming. The corresponding C function is `SSL_CIPHER_get_name`.
    var cipherSuite: String? { SSL_get_current_cipher(ssl).map { String(cString: SSL_CIPHER_get_name($0)) } }

    /// The names the peer's certificate is for (its DNS and IP alternative names, else its common
    /// name), or nil when it presented none. The corresponding C function is `SSL_get0_peer_certificate`.
    var presentedCertificateNames: [String]? {
        guard let certificate = SSL_get0_peer_certificate(ssl) else { return nil }
        var text = [CChar](repeating: 0, count: Int(CSSL_NAMES_CAPACITY))
        cssl_certificate_names(certificate, &text, text.count)
        let joined = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return joined.split(separator: ", ").map(String.init)
    }
}

extension TLSSession {
    /// Why the last call failed, read from the error queue (and the certificate check), as one line.
    private func failure(during operation: String) -> TLSError {
        let code = peekOpenSSLError()
        if cssl_error_library(code) == ERR_LIB_SSL && cssl_error_reason(code) == SSL_R_CERTIFICATE_VERIFY_FAILED {
            clearOpenSSLErrors()
            return verificationFailure(during: operation)
        }
        var (reason, words) = TLSSession.classify(code)
        // Past the handshake, a failure OpenSSL does not name is a broken record, not a failed handshake.
        if reason == .handshakeFailed && SSL_is_init_finished(ssl) == 1 { reason = .protocolError }
        return openSSLError(reason, operation, fallback: "the connection broke TLS's rules").withDetail(words)
    }

    /// The certificate check's verdict, as a reason and in words. The corresponding C functions are
    /// `SSL_get_verify_result` and `X509_verify_cert_error_string`.
    private func verificationFailure(during operation: String) -> TLSError {
        let result = Int32(truncatingIfNeeded: SSL_get_verify_result(ssl))
        let words = String(cString: X509_verify_cert_error_string(Int(result)))
        switch result {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return TLSError(.certificateExpired, operation: operation, detail: words)
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return TLSError(.certificateNotYetValid, operation: operation, detail: words)
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            let names = peerCertificateNames.map { " (certificate is for \($0))" } ?? ""
            return TLSError(.hostNameMismatch, operation: operation, detail: "host name mismatch\(names)")
        default:
            return TLSError(.untrustedCertificate, operation: operation, detail: words)
        }
    }

    /// The names the peer's certificate is for, for a mismatch message.
    private var peerCertificateNames: String? {
        let text = mismatchedNames.map { String(cString: $0) } ?? ""
        return text.isEmpty ? nil : text
    }

    /// The kind of a failure OpenSSL reported, and how to say it when OpenSSL's words alone would not do.
    private static func classify(_ code: UInt) -> (TLSError.Reason, prefix: String?) {
        guard cssl_error_library(code) == ERR_LIB_SSL else { return (.protocolError, nil) }
        switch cssl_error_reason(code) {
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION, SSL_R_WRONG_SSL_VERSION,
            SSL_R_UNSUPPORTED_SSL_VERSION, SSL_R_NO_PROTOCOLS_AVAILABLE:
            return (.protocolVersion, "no TLS version in common (TLS 1.2 at least)")
        case SSL_R_WRONG_VERSION_NUMBER, SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST, SSL_R_UNKNOWN_PROTOCOL,
            SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_RECORD_LENGTH_MISMATCH:
            return (.protocolError, "the peer does not speak TLS")
        case SSL_R_NO_RENEGOTIATION:
            return (.renegotiationRefused, "renegotiation refused")
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            return (.noCertificate, "the client presented no certificate")
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return (.noCertificate, "the server requires a client certificate")
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, SSL_R_TLSV1_ALERT_UNKNOWN_CA, SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN,
            SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
            return (.certificateRefused, "the peer refused our certificate")
        case SSL_R_NO_SHARED_CIPHER, SSL_R_NO_SHARED_GROUPS, SSL_R_NO_SUITABLE_KEY_SHARE:
            return (.handshakeFailed, "no cipher suite or group in common")
        default:
            return (.handshakeFailed, nil)
        }
    }
}

extension TLSError {
    /// The same error with `prefix` before OpenSSL's words: "the peer does not speak TLS (wrong version number)".
    func withDetail(_ prefix: String?) -> TLSError {
        guard let prefix else { return self }
        return TLSError(reason, operation: operation, target: target, detail: "\(prefix) (\(detail))")
    }
}
