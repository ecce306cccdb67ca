// The one error type of UVNetTLS: why TLS failed, in words a person reads, plus what was being done and to whom.
import Glibc

/// A TLS failure: a certificate refused, a handshake that failed or timed out, a peer that ended
/// without close_notify, a configuration file that cannot be used.
///
/// Two errors are equal when their reasons are, so the context never gets in the way of a match:
/// ```swift
/// catch let error as TLSError where error.reason == .certificateExpired { … }
/// ```
/// `description` is one line naming the peer and the reason, e.g.
/// `TLS handshake with example.com:443: certificate has expired`. It never contains key material or application data.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why TLS failed, as a kind to match on; `detail` says it in words, with specifics.
    public struct Reason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The peer's certificate is past its notAfter date.
        public static let certificateExpired = Reason(rawValue: "certificate expired")
        /// The peer's certificate is before its notBefore date.
        public static let certificateNotYetValid = Reason(rawValue: "certificate not yet valid")
        /// The certificate is for another host name or address.
        public static let hostNameMismatch = Reason(rawValue: "host name mismatch")
        /// The chain leads to no certificate authority this side trusts (unknown issuer, self-signed, …).
        public static let untrustedCertificate = Reason(rawValue: "untrusted certificate")
        /// The peer presented no certificate where one is required; for a client, the server required
        /// one and this side presented none.
        public static let noCertificate = Reason(rawValue: "no certificate")
        /// The peer offers only protocol versions this side refuses (below the minimum, TLS 1.2 by default).
        public static let protocolVersion = Reason(rawValue: "protocol version")
        /// The handshake failed otherwise: an alert from the peer, no cipher or ALPN protocol in common, …
        public static let handshakeFailed = Reason(rawValue: "handshake failed")
        /// The handshake did not finish within the configured time.
        public static let handshakeTimedOut = Reason(rawValue: "handshake timed out")
        /// The peer sent what is not TLS, or broke TLS's rules after the handshake.
        public static let protocolError = Reason(rawValue: "protocol error")
        /// The peer ended the connection without close_notify: what came before may be cut short.
        public static let truncated = Reason(rawValue: "truncated")
        /// The peer asked to renegotiate, which UVNetTLS refuses.
        public static let renegotiationRefused = Reason(rawValue: "renegotiation refused")
        /// The peer refused this side's certificate (a server requiring client certificates, not trusting ours).
        public static let certificateRefused = Reason(rawValue: "certificate refused")
        /// A certificate, key or CA file could not be read or used.
        public static let configuration = Reason(rawValue: "configuration")
        /// OpenSSL failed for a reason of its own (out of memory, a broken random generator).
        public static let internalError = Reason(rawValue: "internal error")
    }

    /// Why, to match on.
    public let reason: Reason
    /// What was being done, e.g. `"TLS handshake with"`, `"load certificate chain from"`.
    public let operation: String
    /// The host and port, or file, the operation was aimed at.
    public let target: String?
    /// The reason in words, e.g. `"host name mismatch (certificate is for other.example)"`.
    public let detail: String

    /// An error for `reason`; `detail` defaults to the reason's own words.
    public init(_ reason: Reason, operation: String, target: String? = nil, detail: String? = nil) {
        self.reason = reason
        self.operation = operation
        self.target = target
        self.detail = detail ?? reason.rawValue
    }

    /// A file that cannot be read or written, in the system's words (`no such file or directory`):
    /// OpenSSL itself says only "system lib".
    static func fromErrno(operation: String, target: String) -> TLSError {
        TLSError(.configuration, operation: operation, target: target, detail: String(cString: strerror(errno)).lowercased())
    }

    /// The same error, aimed at `target` (a connection learns its peer's name after the error is made).
    func naming(_ target: String?) -> TLSError {
        TLSError(reason, operation: operation, target: target ?? self.target, detail: detail)
    }

    public var description: String {
        "\(operation)\(target.map { " \($0)" } ?? ""): \(detail)"
    }

    public static func == (lhs: TLSError, rhs: TLSError) -> Bool { lhs.reason == rhs.reason }
    public func hash(into hasher: inout Hasher) { hasher.combine(reason) }
}
