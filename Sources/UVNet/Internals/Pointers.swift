// Seeing one piece of libuv memory as another libuv type: handles and requests share their heads.
import CUV

extension UnsafeMutablePointer {
    /// The same memory as libuv type `T` (`uv_tcp_t` as `uv_stream_t` or `uv_handle_t`, …).
    @inline(__always)
    func cast<T>(to type: T.Type) -> UnsafeMutablePointer<T> {
        UnsafeMutableRawPointer(self).assumingMemoryBound(to: T.self)
    }
}
