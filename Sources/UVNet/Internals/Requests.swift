// libuv request memory (uv_write_t, uv_shutdown_t, uv_connect_t) and the Swift completions they carry.
import CUV

/// A completion parked in a request's `data` while libuv works on it.
final class CompletionBox<Value> {
    let completion: (Value) -> Void
    init(_ completion: @escaping (Value) -> Void) { self.completion = completion }
}

extension UnsafeMutableRawPointer {
    /// Parks `completion` (retained) for the request's callback; nil stays nil.
    static func retaining<Value>(_ completion: ((Value) -> Void)?) -> UnsafeMutableRawPointer? {
        completion.map { Unmanaged.passRetained(CompletionBox($0)).toOpaque() }
    }
}

/// Takes back a completion parked with `retaining`; call exactly once per request.
func takeCompletion<Value>(_ data: UnsafeMutableRawPointer?, as: Value.Type) -> ((Value) -> Void)? {
    data.map { Unmanaged<CompletionBox<Value>>.fromOpaque($0).takeRetainedValue().completion }
}

/// A queued write: one allocation holds the `uv_write_t` and a copy of the bytes the kernel did not
/// take at once, so the caller's buffer may be reused as soon as `write` returns.
enum QueuedWrite {
    private static let headerSize =
        (MemoryLayout<uv_write_t>.size + 15) & ~15

    /// Allocates the request and copies `bytes` behind it.
    static func make(copying bytes: UnsafeRawBufferPointer) -> (UnsafeMutablePointer<uv_write_t>, uv_buf_t) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: headerSize + bytes.count, alignment: 16)
        let payload = memory + headerSize
        if let base = bytes.baseAddress { payload.copyMemory(from: base, byteCount: bytes.count) }
        let request = memory.bindMemory(to: uv_write_t.self, capacity: 1)
        let buffer = uv_buf_init(payload.assumingMemoryBound(to: CChar.self), UInt32(bytes.count))
        return (request, buffer)
    }

    static func free(_ request: UnsafeMutablePointer<uv_write_t>) {
        UnsafeMutableRawPointer(request).deallocate()
    }
}
