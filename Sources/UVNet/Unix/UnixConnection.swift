// A Unix-domain connection: what a stream is (StreamConnection), plus connecting to a path, the peer's
// credentials, and (on an IPC pipe) handing TCP handles to another process or loop.
import CUV
import Glibc

/// A Unix-domain stream, for processes on one machine: made by `connect(to:_:)`, accepted by a `UnixListener`, adopted
/// (`init(adopting:on:ipc:)`: a socketpair's end, a descriptor a parent passed down), or a `ChildProcess`'s pipe.
///
/// ```swift
/// let connection = try await UnixConnection.connect(to: "/run/app.sock", on: loop)
/// let peer = try connection.peerCredentials            // pid, uid, gid of the server
/// try await connection.write("hello\n")
/// ```
/// A path that starts with `@` names Linux's abstract namespace.
public final class UnixConnection: StreamConnection, @unchecked Sendable {  // Handle's members check the loop's thread
    /// Whether this is an IPC pipe, which can carry handles (`send(_:completion:)`).
    public let isIPC: Bool
    /// What `receivedHandles()` takes from; made when first asked for, kept for the connection's life.
    var handles: HandleQueue?

    /// Creates an unconnected Unix-domain handle; with `ipc`, one that can carry handles to and from
    /// another process. The corresponding C function is `uv_pipe_init`.
    public init(on loop: Loop, ipc: Bool = false) throws(UVError) {
        isIPC = ipc
        try super.init(loop: loop, cType: uv_pipe_t.self, operation: "create Unix connection")
        try uvCheck(uv_pipe_init(loop.raw, pipe, ipc ? 1 : 0), "create Unix connection")
        didOpen()
    }

    /// Takes over `descriptor`, a connected Unix-domain socket (or pipe) this process already has: one end of a
    /// `socketpair`, or a descriptor a parent process passed down (an IPC channel on fd 3, say). The connection owns
    /// it from now on and closes it. The corresponding C function is `uv_pipe_open`.
    public convenience init(adopting descriptor: CInt, on loop: Loop, ipc: Bool = false) throws(UVError) {
        try self.init(on: loop, ipc: ipc)
        do {
            try uvCheck(uv_pipe_open(pipe, descriptor), "adopt descriptor", target: "\(descriptor)")
        } catch {
            close()
            throw error
        }
    }

    var pipe: UnsafeMutablePointer<uv_pipe_t> {
        rawHandle.cast(to: uv_pipe_t.self)
    }

    // MARK: Connecting

    /// Connects to the Unix-domain socket at `path` (`@name`: Linux's abstract namespace). `completion` runs once,
    /// after this returns: `.success`, or an error naming the path (`.noSuchFile`, `.connectionRefused` for a socket
    /// file nobody listens on, `.permissionDenied`, `.tryAgain` when the listener's backlog is full, or `.canceled`
    /// when the connection is closed first). Throws, without calling `completion`, for a path too long for a socket
    /// (the message says the limit) or a connect that cannot start. The corresponding C function is `connect`.
    public func connect(to path: String, _ completion: @escaping Completion) throws(UVError) {
        checkThread()
        let operation = "connect to"
        let name = try UnixPath(path, operation: operation)
        try connect(to: name.description, completion) { () throws(UVError) in
            // By hand rather than uv_pipe_connect: libuv 1.44 cuts a long path short, and has no abstract
            // names. A Unix-domain connect ends at once, so the socket is handed to libuv connected.
            let socket = try uvCheck(cuv_unix_socket(), operation, target: name.description)
            let outcome: Result<Void, UVError>
            do throws(UVError) {
                try name.connect(socket, operation: operation)
                try uvCheck(uv_pipe_open(pipe, socket), operation, target: name.description)
                outcome = .success(())
            } catch {
                Glibc.close(socket)
                outcome = .failure(error)
            }
            // The completion runs after connect returns, as every connect's does.
            _ = loop.post(.closure { [self] in finishConnect(outcome) })
        }
    }

    /// Connects to `path` (see the callback form). Throws the connect error naming the path,
    /// `.timedOut` after `timeout`, or `CancellationError`; the attempt is closed either way.
    public static func connect(to path: String, on loop: Loop, ipc: Bool = false, timeout: Duration? = nil)
        async throws -> UnixConnection
    {
        try await connecting(on: loop, timeout: timeout, target: "unix:\(path)") { () throws(UVError) in
            let connection = try UnixConnection(on: loop, ipc: ipc)
            return (connection, { (completion) throws(UVError) in try connection.connect(to: path, completion) })
        }
    }

    /// Connects to `path`, runs `body` with the connection, and closes it whichever way `body` ends.
    public static func withConnection<Result: Sendable>(
        to path: String, on loop: Loop, timeout: Duration? = nil, _ body: (UnixConnection) async throws -> Result
    ) async throws -> Result {
        try await closing(connect(to: path, on: loop, timeout: timeout), body)
    }

    /// Remembers the listener's path of an accepted connection (for error messages).
    override func didAccept() {
        peerName = (try? localPath).flatMap { try? UnixPath($0, operation: "") }?.description
    }

    override func didEnter(_ state: State) {
        if state == .closing {
            finishConnect(.failure(UVError.canceled.during("connect to", target: peerName)))
            handles?.finish(.success(()))
        }
        super.didEnter(state)
    }

    // MARK: Names and credentials

    /// The credentials of the process at the other end, as the kernel recorded them when the connection was made: for
    /// a server to decide what a local caller may do. The corresponding socket option is `SO_PEERCRED`.
    public var peerCredentials: PeerCredentials {
        get throws(UVError) {
            checkThread()
            try checkOpen("read peer credentials", target: peerName)
            var credentials = cuv_peer_credentials_t()
            try uvCheck(cuv_peer_credentials(try descriptor("read peer credentials"), &credentials),
                        "read peer credentials", target: peerName)
            return PeerCredentials(processID: credentials.pid, userID: credentials.uid, groupID: credentials.gid)
        }
    }

    /// The path this end is bound to (a listener's path on an accepted connection; empty on a
    /// connecting end). The corresponding C function is `uv_pipe_getsockname`.
    public var localPath: String {
        get throws(UVError) {
            checkThread()
            return try UnixPath.reading("read local path") { uv_pipe_getsockname(pipe, $0, $1) }
        }
    }

    /// The other end's path (empty if unbound). The corresponding C function is `uv_pipe_getpeername`.
    public var peerPath: String {
        get throws(UVError) {
            checkThread()
            return try UnixPath.reading("read peer path") { uv_pipe_getpeername(pipe, $0, $1) }
        }
    }
}

/// Who is at the other end of a Unix-domain connection.
public struct PeerCredentials: Sendable, Hashable {
    /// The peer's process id (as of when it connected).
    public let processID: Int32
    /// The peer's effective user id.
    public let userID: UInt32
    /// The peer's effective group id.
    public let groupID: UInt32

    /// Credentials as given (to compare with, say).
    public init(processID: Int32, userID: UInt32, groupID: UInt32) {
        self.processID = processID
        self.userID = userID
        self.groupID = groupID
    }
}
