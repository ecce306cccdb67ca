// The one choke point where libuv return codes become Swift errors.
import CUV

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

/// The status a libuv callback delivered, as a `Result`.
@inline(__always)
func uvResult(_ status: CInt, _ operation: @autoclosure () -> String, target: @autoclosure () -> String? = nil)
    -> Result<Void, UVError>
{
    status < 0 ? .failure(UVError(status, operation: operation(), target: target())) : .success(())
}
