// The one choke point where OpenSSL's return codes and error queue become TLSErrors: no other file
// reads the error queue, and every call that can fail leaves it empty behind it.
import COpenSSL

/// Throws a `TLSError` naming `operation` (and `target`) unless `rc` is 1, OpenSSL's success; the
/// detail is the first reason on OpenSSL's error queue, which is emptied.
@inline(__always)
func openSSLCheck(
    _ rc: CInt, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil,
    reason: TLSError.Reason = .internalError
) throws(TLSError) {
    if rc != 1 { throw openSSLError(reason, operation(), target: target()) }
}

/// The object an OpenSSL call made, or a `TLSError` when it made none (see `openSSLCheck`).
@inline(__always)
func openSSLMade<Object>(
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

/// The first reason on OpenSSL's error queue, in OpenSSL's words ("wrong version number", "no such
/// file"), or nil when it is empty; the queue is emptied. The corresponding C functions are
/// `ERR_get_error` and `ERR_reason_error_string`.
func takeOpenSSLErrors() -> String? {
    let first = ERR_get_error()
    ERR_clear_error()
    guard first != 0 else { return nil }
    if let text = ERR_reason_error_string(first) { return String(cString: text) }
    return "OpenSSL error \(first)"
}

/// The code of the first failure on OpenSSL's error queue (0: none), left there for
/// `takeOpenSSLErrors` to word: what a failure is classified by. The corresponding C function is
/// `ERR_peek_error`.
func peekOpenSSLError() -> UInt {
    ERR_peek_error()
}

/// Empties OpenSSL's error queue, before a call whose failure is read from it: a stale entry left by
/// another connection on this thread must not be taken for this one's.
/// Peeking first: clearing walks every slot of the queue (some 800 instructions), and on the hot path
/// the queue is nearly always empty already.
@inline(__always)
func clearOpenSSLErrors() {
    if ERR_peek_error() != 0 { ERR_clear_error() }
}
