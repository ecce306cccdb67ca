// Where libuv and POSIX return codes become UVErrors naming what failed: no other file compares one (a test checks).
import CUV
import Glibc

/// Throws a `UVError` naming `operation` (and `target`) when `rc` is a libuv error code;
/// returns `rc` otherwise, for the calls whose non-negative result means something (bytes written).
@inline(__always)
@discardableResult
func uvCheck(_ rc: CInt, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil)
    throws(UVError) -> CInt
{
    if rc < 0 { throw UVError(rc, operation: operation(), target: target()) }
    return rc
}

/// Like `uvCheck`, for a call where one error is an answer rather than a failure (`EAGAIN` from a
/// try-write: the kernel takes nothing now; `EALREADY` from a second read start): nil for it.
@inline(__always)
func uvCheck(
    _ rc: CInt, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil,
    tolerating expected: UVError
) throws(UVError) -> CInt? {
    if rc == expected.rawValue { return nil }
    return try uvCheck(rc, operation(), target: target())
}

/// Throws the `errno` of a POSIX call that returned -1, as a `UVError` (libuv's codes are negated errnos).
@inline(__always)
func posixCheck(_ result: CInt, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil)
    throws(UVError)
{
    if result == -1 { throw UVError(-errno, operation: operation(), target: target()) }
}

/// The status a libuv callback delivered, as a `Result`.
@inline(__always)
func uvResult(_ status: CInt, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil)
    -> Result<Void, UVError>
{
    status < 0 ? .failure(UVError(status, operation: operation(), target: target())) : .success(())
}

/// For the calls that fail only when the system is broken (initializing a mutex or a semaphore, joining
/// a thread UVNet started): there is nobody to report to, so it stops the process naming the call.
@inline(__always)
func uvRequire(_ rc: CInt, _ operation: @autoclosure () -> String) {
    if rc < 0 { fatalError("UVNet: \(operation()) failed: \(UVError(rc, operation: nil))") }
}

/// Whether a libuv call succeeded, for the few where failure has a fallback and no error to report
/// (a reset that cannot be sent becomes a plain close; an address that cannot be printed, "?").
@inline(__always)
func uvSucceeded(_ rc: CInt) -> Bool {
    rc >= 0
}

/// Whether a POSIX call that answers 0 for success (-1 or an error number otherwise) succeeded, for
/// the few where failure is an answer, not an error to report (no file there; no such service).
@inline(__always)
func posixSucceeded(_ rc: CInt) -> Bool {
    rc == 0
}
