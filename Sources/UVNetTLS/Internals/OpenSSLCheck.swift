// The one choke point where OpenSSL's return codes and error queue, and the system calls UVNetTLS makes, become
// TLSErrors: no other file compares a return code by hand (a test checks it) or reads the error queue, and every call
// that can fail leaves the queue empty. The test support's certificate authority uses it too, through the SPI.
import COpenSSL
import Glibc

/// What an OpenSSL call answers for success: 1 for most, a positive length for a few (`X509_sign`),
/// 0 for one (`SSL_CTX_set_alpn_protos`).
@_spi(OpenSSLChecks) public enum OpenSSLSuccess {
    case one, positive, zero
}

/// Throws a `TLSError` naming `operation` (and `target`) unless `rc` is the call's success; the
/// detail is the first reason on OpenSSL's error queue (or `fallback`), which is emptied.
@inline(__always)
@_spi(OpenSSLChecks) public func openSSLCheck(
    _ rc: CInt, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil,
    reason: TLSError.Reason = .internalError, success: OpenSSLSuccess = .one, fallback: String? = nil
) throws(TLSError) {
    let succeeded = switch success {
    case .one: rc == 1
    case .positive: rc > 0
    case .zero: rc == 0
    }
    if !succeeded { throw openSSLError(reason, operation(), target: target(), fallback: fallback) }
}

/// Whether an OpenSSL call answered 1, for the few where failure is an answer (a name that is not an IP address).
@inline(__always)
func openSSLSucceeded(_ rc: CInt) -> Bool {
    rc == 1
}

/// The count an `SSL_read`, `SSL_write` or `SSL_do_handshake` answered when positive (bytes moved;
/// 1, done), or nil when `SSL_get_error` must say why it stopped.
@inline(__always)
func openSSLProgress(_ rc: CInt) -> Int? {
    rc > 0 ? Int(rc) : nil
}

/// Throws a `.configuration` error naming what the system said (`errno`) when a system call that
/// answers -1 (or a short count) failed: a file that cannot be read or written.
@_spi(OpenSSLChecks) public func posixCheck(_ result: Int, expected: Int? = nil, _ operation: String, target: String) throws(TLSError) {
    if result < 0 || (expected != nil && result != expected) { throw .fromErrno(operation: operation, target: target) }
}

/// The object an OpenSSL call made, or a `TLSError` when it made none (see `openSSLCheck`).
@inline(__always)
@_spi(OpenSSLChecks) public func openSSLMade<Object>(
    _ object: Object?, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil,
    reason: TLSError.Reason = .internalError
) throws(TLSError) -> Object {
    guard let object else { throw openSSLError(reason, operation(), target: target()) }
    return object
}

/// A `TLSError` whose detail is the first reason OpenSSL queued (the root cause; later entries say
/// where it surfaced), or `fallback`. Empties the queue, so the next call starts clean.
func openSSLError(
    _ reason: TLSError.Reason, _ operation: String, target: String? = nil, fallback: String? = nil
) -> TLSError {
    TLSError(reason, operation: operation, target: target, detail: takeOpenSSLErrors() ?? fallback)
}

/// The first reason on OpenSSL's error queue, in OpenSSL's words ("wrong version number", "no such file"), or nil when
/// it is empty; the queue is emptied. The corresponding C functions are `ERR_get_error` and `ERR_reason_error_string`.
func takeOpenSSLErrors() -> String? {
    let first = ERR_get_error()
    ERR_clear_error()
    guard first != 0 else { return nil }
    if let text = ERR_reason_error_string(first) { return String(cString: text) }
    return "OpenSSL error \(first)"
}

/// The code of the first failure on OpenSSL's error queue (0: none), left there for `takeOpenSSLErrors` to word: what
/// a failure is classified by. The corresponding C function is `ERR_peek_error`.
func peekOpenSSLError() -> UInt {
    ERR_peek_error()
}

/// Empties OpenSSL's error queue, before a call whose failure is read from it: a stale entry left by another
/// connection on this thread must not be taken for this one's. Peeking first: clearing walks every slot of the queue
/// (some 800 instructions), and on the hot path the queue is nearly always empty already.
@inline(__always)
@_spi(OpenSSLChecks) public func clearOpenSSLErrors() {
    if ERR_peek_error() != 0 { ERR_clear_error() }
}
