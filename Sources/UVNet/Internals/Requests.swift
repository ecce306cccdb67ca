// libuv request memory (uv_write_t, uv_shutdown_t, uv_connect_t) and the Swift completions they carry.
import CUV

/// A completion parked in a request's `data` while libuv works on it.
private final class CompletionBox<Value> {
    let completion: (Value) -> Void
    init(_ completion: @escaping (Value) -> Void) { self.completion = completion }
}

extension UnsafeMutableRawPointer {
    /// Parks `completion` (retained) for the request's callback; nil stays nil.
    fileprivate static func retaining<Value>(_ completion: ((Value) -> Void)?) -> UnsafeMutableRawPointer? {
        completion.map { Unmanaged.passRetained(CompletionBox($0)).toOpaque() }
    }
}

/// Takes back a completion parked with `retaining`; call exactly once per request.
private func takeCompletion<Value>(_ data: UnsafeMutableRawPointer?, as: Value.Type) -> ((Value) -> Void)? {
    data.map { Unmanaged<CompletionBox<Value>>.fromOpaque($0).takeRetainedValue().completion }
}

/// A queued write or send: one allocation holds the libuv request (`uv_write_t`, `uv_udp_send_t`) and a
/// copy of the bytes the kernel did not take at once, so the caller's buffer may be reused as soon as
/// the call returns (or, for bytes the caller lends until the completion, the request alone).
enum QueuedBytes<Request> {
    private static var headerSize: Int { (MemoryLayout<Request>.size + 15) & ~15 }

    /// Queues `bytes` (a copy when `copying`) with `start` (`uv_write2`, `uv_udp_send`), `completion` parked in the
    /// request until `finished`. When `start` fails, the request is freed and `completion` hears the error at once.
    /// True when queued.
    @discardableResult
    static func submit(
        _ bytes: UnsafeRawBufferPointer, copying: Bool = true, completion: ((Result<Void, UVError>) -> Void)?,
        _ operation: @autoclosure () -> String, target: @autoclosure () -> String?,
        _ start: (UnsafeMutablePointer<Request>, UnsafePointer<uv_buf_t>) -> CInt
    ) -> Bool {
        var (request, buffer) = make(bytes, copying: copying)
        head(of: request).pointee.data = .retaining(completion)
        do {
            try uvCheck(start(request, &buffer), operation(), target: target())
            return true
        } catch {
            finished(request)?(.failure(error))
            return false
        }
    }

    /// libuv is done with `request`: frees it and returns the completion parked in it.
    static func finished(_ request: UnsafeMutablePointer<Request>) -> ((Result<Void, UVError>) -> Void)? {
        let completion = takeCompletion(head(of: request).pointee.data, as: Result<Void, UVError>.self)
        UnsafeMutableRawPointer(request).deallocate()
        return completion
    }

    /// Every libuv request begins with `uv_req_t`'s fields (`data` first), as libuv's headers lay them out.
    private static func head(of request: UnsafeMutablePointer<Request>) -> UnsafeMutablePointer<uv_req_t> {
        UnsafeMutableRawPointer(request).assumingMemoryBound(to: uv_req_t.self)
    }

    /// Allocates the request, and a copy of `bytes` behind it when `copying`.
    private static func make(_ bytes: UnsafeRawBufferPointer, copying: Bool) -> (UnsafeMutablePointer<Request>, uv_buf_t) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: headerSize + (copying ? bytes.count : 0), alignment: 16)
        let request = memory.bindMemory(to: Request.self, capacity: 1)
        guard copying else { return (request, uv_buf_t(reading: bytes)) }
        let payload = memory + headerSize
        if let base = bytes.baseAddress { payload.copyMemory(from: base, byteCount: bytes.count) }
        let buffer = uv_buf_t(base: payload.assumingMemoryBound(to: CChar.self), len: bytes.count)
        return (request, buffer)
    }
}

extension uv_buf_t {
    /// A libuv buffer over bytes libuv only reads (libuv's type has no const).
    init(reading bytes: UnsafeRawBufferPointer) {
        self.init(
            base: UnsafeMutablePointer(mutating: bytes.baseAddress?.assumingMemoryBound(to: CChar.self)),
            len: bytes.count)
    }
}
