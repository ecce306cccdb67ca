// The name of a Unix-domain socket: a path in the filesystem, or `@name` in Linux's abstract namespace,
// checked against what sun_path can hold before libuv (which would cut a long path short) sees it.
import CUV

/// A Unix-domain socket's name, as given: `/run/app.sock`, `relative.sock`, or `@app` (Linux's
/// abstract namespace: no file, gone with the last socket, not subject to file permissions).
struct UnixPath: Sendable, CustomStringConvertible {
    /// The name as given.
    let text: String
    /// The bytes of sun_path: the path, or a NUL byte and the abstract name.
    let bytes: [UInt8]

    /// The longest filesystem path a socket can have: sun_path, less its terminating NUL byte.
    static var limit: Int { Int(cuv_unix_path_limit()) }

    /// Checks `text`; throws `.nameTooLong` naming the limit, or `.invalidArgument` for an empty name or
    /// one with a NUL byte, naming `operation`.
    init(_ text: String, operation: String) throws(UVError) {
        self.text = text
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty, !utf8.contains(0) else {
            throw UVError(UV_EINVAL.rawValue, operation: operation, target: "'\(text)'",
                          detail: "a Unix socket's path must be non-empty and without NUL bytes")
        }
        bytes = utf8.first == UInt8(ascii: "@") ? [0] + utf8.dropFirst() : utf8
        guard bytes.count <= UnixPath.limit else {
            throw UVError(UV_ENAMETOOLONG.rawValue, operation: operation, target: text,
                          detail: "the path is \(bytes.count) bytes; a Unix socket's path holds at most \(UnixPath.limit)")
        }
    }

    /// True for `@name`: no file stands for the socket.
    var isAbstract: Bool { bytes.first == 0 }

    /// `unix:/run/app.sock`, `unix:@app`.
    var description: String { "unix:\(text)" }

    /// Binds `descriptor` to this name. The corresponding C function is `bind`.
    func bind(_ descriptor: CInt, operation: String) throws(UVError) {
        try apply(cuv_unix_bind, to: descriptor, operation: operation)
    }

    /// Connects `descriptor` to this name: done or failed at once, as Unix-domain connects are.
    /// The corresponding C function is `connect`.
    func connect(_ descriptor: CInt, operation: String) throws(UVError) {
        try apply(cuv_unix_connect, to: descriptor, operation: operation)
    }

    /// Calls `call` (bind or connect) with the sun_path bytes as a pointer and a length: an abstract
    /// name starts with a NUL byte, so it cannot go as a C string.
    private func apply(
        _ call: (CInt, UnsafePointer<CChar>?, Int) -> CInt, to descriptor: CInt, operation: String
    ) throws(UVError) {
        try uvCheck(bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { call(descriptor, $0.baseAddress, $0.count) }
        }, operation, target: description)
    }

    /// The name read back from a socket (`uv_pipe_getsockname` and friends), in the form it was given.
    static func reading(_ operation: String, _ fill: (UnsafeMutablePointer<CChar>, UnsafeMutablePointer<Int>) -> CInt)
        throws(UVError) -> String
    {
        var buffer = [CChar](repeating: 0, count: limit + 2)
        var length = buffer.count
        try uvCheck(fill(&buffer, &length), operation)
        let bytes = buffer.prefix(length).map { UInt8(bitPattern: $0) }
        if bytes.first == 0 { return "@" + String(decoding: bytes.dropFirst(), as: UTF8.self) }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}

extension UVError {
    /// A name too long, e.g. a Unix socket's path over sun_path. The corresponding libuv error is `UV_ENAMETOOLONG`.
    public static var nameTooLong: UVError { .init(rawValue: UV_ENAMETOOLONG.rawValue) }
    /// No such file or directory, e.g. a Unix socket path in a directory that does not exist. The
    /// corresponding libuv error is `UV_ENOENT`.
    public static var noSuchFile: UVError { .init(rawValue: UV_ENOENT.rawValue) }
}
