// A socket's kernel buffers: how much it holds for sending and receiving before a writer waits or a sender is slowed.
import CUV

/// Which of a socket's two kernel buffers.
enum SocketBuffer {
    case send, receive

    var optionName: String { self == .send ? "SO_SNDBUF" : "SO_RCVBUF" }
}

extension Handle {
    /// Reads one of the socket's kernel buffer sizes, or sets it to `bytes` first; returns the size now.
    /// The corresponding C functions are `uv_send_buffer_size` and `uv_recv_buffer_size`.
    final func socketBufferSize(_ buffer: SocketBuffer, setting bytes: Int? = nil, target: String?) throws(UVError) -> Int {
        checkThread()
        let operation = bytes == nil ? "read \(buffer.optionName)" : "set \(buffer.optionName)"
        try checkOpen(operation, target: target)
        // libuv reads the size when the value is 0, so a size must be positive to be set.
        guard (bytes ?? 1) > 0, (bytes ?? 0) <= Int(Int32.max) else { throw UVError.invalidArgument.during(operation, target: target) }
        var value = CInt(bytes ?? 0)
        switch buffer {
        case .send: try uvCheck(uv_send_buffer_size(rawHandle, &value), operation, target: target)
        case .receive: try uvCheck(uv_recv_buffer_size(rawHandle, &value), operation, target: target)
        }
        return bytes == nil ? Int(value) : try socketBufferSize(buffer, target: target)
    }
}

/// A socket whose kernel buffers can be sized: `TCPConnection`, `UnixConnection`, `UDPSocket`.
public protocol SocketBufferSizing: Handle {}

extension StreamConnection: SocketBufferSizing {}
extension UDPSocket: SocketBufferSizing {}

extension SocketBufferSizing {
    /// The kernel's send buffer, in bytes (`SO_SNDBUF`): how much it takes before a write waits for the peer.
    public func sendBufferSize() throws(UVError) -> Int {
        try socketBufferSize(.send, target: errorTarget)
    }

    /// Asks for a send buffer of `bytes`; returns the size the kernel then reports (Linux doubles the
    /// request for its bookkeeping, within `net.core.wmem_max`). Throws `.invalidArgument` for 0.
    @discardableResult
    public func setSendBufferSize(_ bytes: Int) throws(UVError) -> Int {
        try socketBufferSize(.send, setting: bytes, target: errorTarget)
    }

    /// The kernel's receive buffer, in bytes (`SO_RCVBUF`): what may wait unread (beyond it, UDP drops datagrams).
    public func receiveBufferSize() throws(UVError) -> Int {
        try socketBufferSize(.receive, target: errorTarget)
    }

    /// Asks for a receive buffer of `bytes` (see `setSendBufferSize(_:)`; `net.core.rmem_max` bounds it).
    @discardableResult
    public func setReceiveBufferSize(_ bytes: Int) throws(UVError) -> Int {
        try socketBufferSize(.receive, setting: bytes, target: errorTarget)
    }
}
