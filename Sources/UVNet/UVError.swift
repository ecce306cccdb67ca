// The one error type of UVNet: a libuv error code plus what was being done, and to what, when it failed.
import CUV

/// An error reported by libuv, or by UVNet where it checks input before calling libuv.
///
/// Two errors are equal when their codes are equal, so the context never gets in the way of a match:
/// ```swift
/// do { try listener.bind(to: address) } catch let error as UVError where error == .addressInUse { … }
/// ```
/// `description` reads like `connect to 127.0.0.1:9: connection refused (ECONNREFUSED)`.
public struct UVError: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The libuv error code, a negative number such as `UV_ECONNREFUSED`.
    public let rawValue: CInt
    /// The context lives behind one reference so that a `Result<…, UVError>` stays two words wide:
    /// read callbacks pass one per read, and copying three strings there would cost on every read.
    private let context: Context?

    private final class Context: Sendable {
        let operation: String?
        let target: String?
        let detail: String?

        init(operation: String?, target: String?, detail: String?) {
            self.operation = operation
            self.target = target
            self.detail = detail
        }
    }

    /// The error with libuv code `rawValue` (negative), no operation named.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
        self.context = nil
    }

    /// An error with the context of the operation that failed.
    public init(_ code: CInt, operation: String?, target: String? = nil, detail: String? = nil) {
        self.rawValue = code
        self.context = Context(operation: operation, target: target, detail: detail)
    }

    /// What UVNet was doing when the error happened, e.g. `"connect to"`.
    public var operation: String? { context?.operation }
    /// The address, host or other thing the operation was aimed at, e.g. `"127.0.0.1:9000"`.
    public var target: String? { context?.target }
    /// A more specific explanation than libuv's message, where UVNet has one.
    public var detail: String? { context?.detail }

    /// The same error, naming what was being done.
    public func during(_ operation: String, target: String? = nil) -> UVError {
        UVError(rawValue, operation: operation, target: target ?? self.target, detail: detail)
    }

    /// The libuv name of the error, e.g. `"ECONNREFUSED"`. The corresponding C function is `uv_err_name_r`.
    public var name: String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            String(cString: uv_err_name_r(rawValue, buffer.baseAddress, buffer.count))
        }
    }

    /// libuv's human-readable message, e.g. `"connection refused"`. The corresponding C function is `uv_strerror_r`.
    public var message: String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 128) { buffer in
            String(cString: uv_strerror_r(rawValue, buffer.baseAddress, buffer.count))
        }
    }

    /// One line: the operation and what it was aimed at, the reason, and the code's name.
    public var description: String {
        var text = ""
        if let operation { text += operation }
        if let target { text += text.isEmpty ? target : " \(target)" }
        if !text.isEmpty { text += ": " }
        return text + "\(detail ?? message) (\(name))"
    }

    public static func == (lhs: UVError, rhs: UVError) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
}

extension UVError {
    /// End of stream: the peer closed its side in an orderly way. The corresponding libuv error is `UV_EOF`.
    public static var eof: UVError { .init(rawValue: UV_EOF.rawValue) }
    /// Operation canceled, e.g. a connect or write pending when its handle was closed.
    /// The corresponding libuv error is `UV_ECANCELED`.
    public static var canceled: UVError { .init(rawValue: UV_ECANCELED.rawValue) }
    /// Address already in use. The corresponding libuv error is `UV_EADDRINUSE`.
    public static var addressInUse: UVError { .init(rawValue: UV_EADDRINUSE.rawValue) }
    /// Address not available on this machine. The corresponding libuv error is `UV_EADDRNOTAVAIL`.
    public static var addressNotAvailable: UVError { .init(rawValue: UV_EADDRNOTAVAIL.rawValue) }
    /// Connection refused. The corresponding libuv error is `UV_ECONNREFUSED`.
    public static var connectionRefused: UVError { .init(rawValue: UV_ECONNREFUSED.rawValue) }
    /// Connection reset by peer. The corresponding libuv error is `UV_ECONNRESET`.
    public static var connectionReset: UVError { .init(rawValue: UV_ECONNRESET.rawValue) }
    /// Connection aborted before it was accepted. The corresponding libuv error is `UV_ECONNABORTED`.
    public static var connectionAborted: UVError { .init(rawValue: UV_ECONNABORTED.rawValue) }
    /// Broken pipe: a write to a connection the peer has closed. The corresponding libuv error is `UV_EPIPE`.
    public static var brokenPipe: UVError { .init(rawValue: UV_EPIPE.rawValue) }
    /// Connection timed out. The corresponding libuv error is `UV_ETIMEDOUT`.
    public static var timedOut: UVError { .init(rawValue: UV_ETIMEDOUT.rawValue) }
    /// Socket is not connected. The corresponding libuv error is `UV_ENOTCONN`.
    public static var notConnected: UVError { .init(rawValue: UV_ENOTCONN.rawValue) }
    /// Bad file descriptor: the handle is closed. The corresponding libuv error is `UV_EBADF`.
    public static var badFileDescriptor: UVError { .init(rawValue: UV_EBADF.rawValue) }
    /// Invalid argument. The corresponding libuv error is `UV_EINVAL`.
    public static var invalidArgument: UVError { .init(rawValue: UV_EINVAL.rawValue) }
    /// Resource temporarily unavailable. The corresponding libuv error is `UV_EAGAIN`.
    public static var tryAgain: UVError { .init(rawValue: UV_EAGAIN.rawValue) }
    /// Resource busy or locked. The corresponding libuv error is `UV_EBUSY`.
    public static var busy: UVError { .init(rawValue: UV_EBUSY.rawValue) }
    /// Operation already in progress. The corresponding libuv error is `UV_EALREADY`.
    public static var alreadyInProgress: UVError { .init(rawValue: UV_EALREADY.rawValue) }
    /// Too many open files in this process. The corresponding libuv error is `UV_EMFILE`.
    public static var tooManyOpenFiles: UVError { .init(rawValue: UV_EMFILE.rawValue) }
    /// Too many open files in the system. The corresponding libuv error is `UV_ENFILE`.
    public static var tooManyOpenFilesInSystem: UVError { .init(rawValue: UV_ENFILE.rawValue) }
    /// No buffer space available. The corresponding libuv error is `UV_ENOBUFS`.
    public static var noBufferSpace: UVError { .init(rawValue: UV_ENOBUFS.rawValue) }
    /// Not enough memory. The corresponding libuv error is `UV_ENOMEM`.
    public static var outOfMemory: UVError { .init(rawValue: UV_ENOMEM.rawValue) }
    /// Permission denied, e.g. binding a privileged port. The corresponding libuv error is `UV_EACCES`.
    public static var permissionDenied: UVError { .init(rawValue: UV_EACCES.rawValue) }
    /// Message too long, e.g. a datagram over the size limit. The corresponding libuv error is `UV_EMSGSIZE`.
    public static var messageTooLong: UVError { .init(rawValue: UV_EMSGSIZE.rawValue) }
    /// The peer broke the protocol, e.g. ended a stream inside a frame. The corresponding libuv error is `UV_EPROTO`.
    public static var protocolError: UVError { .init(rawValue: UV_EPROTO.rawValue) }
    /// Host is unreachable. The corresponding libuv error is `UV_EHOSTUNREACH`.
    public static var hostUnreachable: UVError { .init(rawValue: UV_EHOSTUNREACH.rawValue) }
    /// Network is unreachable. The corresponding libuv error is `UV_ENETUNREACH`.
    public static var networkUnreachable: UVError { .init(rawValue: UV_ENETUNREACH.rawValue) }
    /// No such host (or no such service for it). The corresponding libuv error is `UV_EAI_NONAME`.
    public static var hostNotFound: UVError { .init(rawValue: UV_EAI_NONAME.rawValue) }
    /// The host has no address of the family asked for. The corresponding libuv error is `UV_EAI_ADDRFAMILY`.
    public static var noAddressInFamily: UVError { .init(rawValue: UV_EAI_ADDRFAMILY.rawValue) }
    /// The host has no address. The corresponding libuv error is `UV_EAI_NODATA`.
    public static var noAddress: UVError { .init(rawValue: UV_EAI_NODATA.rawValue) }
    /// The name server failed for now; trying again may work. The corresponding libuv error is `UV_EAI_AGAIN`.
    public static var temporaryNameFailure: UVError { .init(rawValue: UV_EAI_AGAIN.rawValue) }
    /// The service is not known for the socket type. The corresponding libuv error is `UV_EAI_SERVICE`.
    public static var serviceNotFound: UVError { .init(rawValue: UV_EAI_SERVICE.rawValue) }
    /// Address family not supported. The corresponding libuv error is `UV_EAFNOSUPPORT`.
    public static var addressFamilyNotSupported: UVError { .init(rawValue: UV_EAFNOSUPPORT.rawValue) }
}
