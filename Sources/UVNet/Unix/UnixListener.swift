// A listening Unix-domain socket: what a stream listener is (StreamListener), plus binding a path safely
// (a stale socket file replaced, a live server never), its permissions, and its removal on close.
import CUV
import Glibc

/// A Unix-domain server socket, for clients on the same machine.
///
/// ```swift
/// let listener = try UnixListener(on: loop, path: "/run/app.sock", mode: 0o660)
/// try await listener.serve { connection in
///     guard try connection.peerCredentials.userID == getuid() else { return }
///     for try await bytes in connection.inbound() { try await connection.write(bytes) }
/// }
/// ```
/// Binding checks what is at `path` first: a socket file left by a server that is gone is replaced, while a live
/// server there (one that accepts a connect) is `.addressInUse`, as is any file that is not a socket; neither is
/// touched. The socket file is removed when the listener closes (if it is still the one this listener made). A path
/// that starts with `@` names Linux's abstract namespace: no file, and no permissions.
public final class UnixListener: StreamListener, ConnectionListener, @unchecked Sendable {  // Handle's members check the loop's thread
    public typealias Connection = UnixConnection
    @_spi(StreamLayers) public var acceptedConnections = ConnectionQueueSlot<UnixConnection>()

    /// The path listened on, as given.
    public let path: String
    /// Whether accepted connections are IPC pipes, which can carry handles.
    public let acceptsIPC: Bool
    /// The socket file this listener made, to remove on close: its device and inode, so that a file
    /// someone else put there since is left alone.
    private var socketFile: (device: UInt64, inode: UInt64)?

    /// Binds to `path` and listens. With `mode` (`0o660`, say), the socket file gets that mode before the first client
    /// can connect. With `ipc`, every accepted connection is an IPC pipe (clients connect with `ipc: true`), over
    /// which TCP handles can be passed. Throws `.nameTooLong` (naming the limit) for a path too long, `.noSuchFile`
    /// for a missing directory, `.permissionDenied`, or `.addressInUse` when a live server (or a file that is not a
    /// socket) is there. The corresponding C functions are `bind`, `chmod`, `uv_pipe_open` and `uv_listen`.
    public init(
        on loop: Loop, path: String, mode: UInt32? = nil, ipc: Bool = false, backlog: Int = 511,
        _ onConnection: ((Result<UnixConnection, UVError>) -> Void)? = nil
    ) throws(UVError) {
        self.path = path
        acceptsIPC = ipc
        let name = try UnixPath(path, operation: "bind")
        try super.init(loop: loop, cType: uv_pipe_t.self, addressText: name.description)
        try uvCheck(uv_pipe_init(loop.raw, rawHandle.cast(to: uv_pipe_t.self), 0), "create listener", target: addressText)
        didOpen()
        if let onConnection { acceptEach(AcceptHandler(listener: self, make: { [unowned self] () throws(UVError) in try makeConnection() }, onConnection), takingNow: false) }
        do throws(UVError) {
            try bindAndListen(name, mode: mode, backlog: backlog)
        } catch {
            close()
            throw error
        }
    }

    private func bindAndListen(_ name: UnixPath, mode: UInt32?, backlog: Int) throws(UVError) {
        let socket = try uvCheck(cuv_unix_socket(), "bind", target: addressText)
        do {
            try bind(socket, to: name)
            if let mode, !name.isAbstract {
                try posixCheck(chmod(path, mode_t(mode)), "set permissions of", target: path)
            }
            try uvCheck(uv_pipe_open(rawHandle.cast(to: uv_pipe_t.self), socket), "bind", target: addressText)
        } catch {
            Glibc.close(socket)
            removeSocketFile()
            throw error
        }
        try listen(backlog: backlog)
    }

    /// Binds, replacing a stale socket file (one nobody accepts on) but never a live server's.
    private func bind(_ socket: CInt, to name: UnixPath) throws(UVError) {
        do {
            try name.bind(socket, operation: "bind")
        } catch where error == .addressInUse && !name.isAbstract {
            try checkStale(name)
            try posixCheck(unlink(path), "remove stale socket file", target: path)
            try name.bind(socket, operation: "bind")
        }
        if !name.isAbstract, let file = Self.fileIdentity(path) { socketFile = file }
    }

    /// Throws `.addressInUse` unless what is at `name` is a socket file nobody listens on.
    private func checkStale(_ name: UnixPath) throws(UVError) {
        var info = stat()
        guard posixSucceeded(stat(path, &info)), info.st_mode & S_IFMT == S_IFSOCK else {
            throw UVError(UV_EADDRINUSE.rawValue, operation: "bind", target: addressText,
                          detail: "a file that is not a socket is in the way")
        }
        let probe = try uvCheck(cuv_unix_socket(), "bind", target: addressText)
        defer { Glibc.close(probe) }
        do {
            try name.connect(probe, operation: "bind")
        } catch where error == .connectionRefused {
            return  // a socket file left by a server that is gone
        }
        throw UVError(UV_EADDRINUSE.rawValue, operation: "bind", target: addressText,
                      detail: "a server is listening there")
    }

    @_spi(StreamLayers) public func makeConnection() throws(UVError) -> UnixConnection {
        try UnixConnection(on: loop, ipc: acceptsIPC)
    }

    override func didEnter(_ state: State) {
        if state == .closing { removeSocketFile() }
        super.didEnter(state)
    }

    /// Removes the socket file if it is still the one this listener made.
    private func removeSocketFile() {
        guard let socketFile, let now = Self.fileIdentity(path), now == socketFile else { return }
        unlink(path)
        self.socketFile = nil
    }

    private static func fileIdentity(_ path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard posixSucceeded(stat(path, &info)) else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}
