// Child processes: spawn with arguments, environment, directory, descriptors (inherited, pipes, IPC); exit status or
// signal delivered once; kill. Enough for a pre-fork server or a test harness, not a general process library.
import CUV
import Glibc

/// A process this one started, watched on the loop until it exits.
///
/// ```swift
/// let child = try ChildProcess(on: loop, executable: "/bin/ls", arguments: ["-l"],
///                              descriptors: [.ignore, .pipe, .inherit])
/// for try await bytes in child.standardOutput!.inbound() { … }
/// let termination = try await child.termination()          // .exited(0)
/// ```
/// The handle keeps itself alive until the child exits, then closes itself; the exit reaches
/// `onExit` and every `termination()` waiter once. Closing it sooner lets go of the child (which runs
/// on): waiters then get `.canceled`. The corresponding C type is `uv_process_t`.
public final class ChildProcess: Handle, @unchecked Sendable {  // Handle's members check the loop's thread
    /// What one of the child's descriptors (0 stdin, 1 stdout, 2 stderr, 3 …) is.
    public enum Descriptor: Sendable {
        /// The same descriptor number of this process.
        case inherit
        /// Descriptor `number` of this process.
        case inheritFrom(CInt)
        /// Nothing (reads get EOF, writes go nowhere).
        case ignore
        /// A new pipe to this process: a `UnixConnection` here (`pipe(_:)`), both ways.
        case pipe
        /// A new IPC pipe: like `pipe`, and TCP handles travel over it (`UnixConnection.send(_:)`).
        case ipcPipe
    }

    /// How a child ended.
    public enum Termination: Sendable, Hashable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it.
        case signaled(Int32)

        /// `exit status 3`, `signal 9 (SIGKILL)`.
        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signaled(let signal): "signal \(signal) (\(Signal.Number(rawValue: signal)))"
            }
        }
    }

    private var pid: Int32 = 0
    /// The executable, for error messages.
    private let executable: String
    private let pipes: [Int: UnixConnection]
    private var onExit: ((Termination) -> Void)?
    private var ended: Termination?
    private var waiters: [Wake<Termination>] = []

    /// Starts `executable` (looked up in `PATH` when it has no slash) with `arguments` (not counting the program name,
    /// which is `executable`), in `workingDirectory`, with `environment` (nil: this process's), and `descriptors` as
    /// its 0, 1, 2, …. `onExit` runs once, on the loop's thread, when it ends. Throws `.noSuchFile` for an executable
    /// that is not there, naming it. The corresponding C function is `uv_spawn`.
    public init(
        on loop: Loop, executable: String, arguments: [String] = [], environment: [String: String]? = nil,
        workingDirectory: String? = nil, descriptors: [Descriptor] = [.inherit, .inherit, .inherit],
        onExit: ((Termination) -> Void)? = nil
    ) throws(UVError) {
        self.executable = executable
        self.onExit = onExit
        var pipes: [Int: UnixConnection] = [:]
        for (number, descriptor) in descriptors.enumerated() {
            switch descriptor {
            case .pipe: pipes[number] = try UnixConnection(on: loop)
            case .ipcPipe: pipes[number] = try UnixConnection(on: loop, ipc: true)
            case .inherit, .inheritFrom, .ignore: break
            }
        }
        self.pipes = pipes
        try super.init(loop: loop, cType: uv_process_t.self, operation: "start \(executable)")
        let process = rawHandle.cast(to: uv_process_t.self)
        do {
            try Self.spawn(
                process, on: loop, executable, arguments, environment, workingDirectory,
                Self.containers(descriptors, pipes))
        } catch {
            for pipe in pipes.values { pipe.close() }
            // libuv registered the handle though the spawn failed: it must be closed, its memory kept until then.
            didOpen()
            close()
            throw error
        }
        pid = process.pointee.pid
        didOpen()
    }

    /// The child's process id.
    public var processID: Int32 {
        checkThread()
        return pid
    }

    private static func containers(_ descriptors: [Descriptor], _ pipes: [Int: UnixConnection]) -> [uv_stdio_container_t] {
        descriptors.enumerated().map { number, descriptor in
            var container = uv_stdio_container_t()
            switch descriptor {
            case .inherit:
                container.flags = UV_INHERIT_FD
                container.data.fd = CInt(number)
            case .inheritFrom(let source):
                container.flags = UV_INHERIT_FD
                container.data.fd = source
            case .ignore:
                container.flags = UV_IGNORE
            case .pipe, .ipcPipe:
                container.flags = uv_stdio_flags(UV_CREATE_PIPE.rawValue | UV_READABLE_PIPE.rawValue | UV_WRITABLE_PIPE.rawValue)
                container.data.stream = pipes[number]!.stream
            }
            return container
        }
    }

    /// `uv_spawn` with C strings that live until it returns (libuv copies what it keeps).
    private static func spawn(
        _ process: UnsafeMutablePointer<uv_process_t>, on loop: Loop, _ executable: String, _ arguments: [String],
        _ environment: [String: String]?, _ workingDirectory: String?, _ containers: [uv_stdio_container_t]
    ) throws(UVError) {
        let arguments = CStrings([executable] + arguments)
        let environment = environment.map { CStrings($0.map { "\($0.key)=\($0.value)" }) }
        var containers = containers
        var options = uv_process_options_t()
        options.exit_cb = ChildProcess.exited
        let rc = executable.withCString { file in
            withOptionalCString(workingDirectory) { directory in
                containers.withUnsafeMutableBufferPointer { stdio in
                    options.file = file
                    options.args = arguments.pointers
                    options.env = environment?.pointers
                    options.cwd = directory
                    options.stdio_count = CInt(stdio.count)
                    options.stdio = stdio.baseAddress
                    return uv_spawn(loop.raw, process, &options)
                }
            }
        }
        try uvCheck(rc, "start", target: executable)
    }

    /// This process's environment, to start a child with it changed:
    /// `environment: ChildProcess.currentEnvironment.merging(["KEY": "value"]) { $1 }`.
    /// The corresponding C function is `uv_os_environ`.
    public static var currentEnvironment: [String: String] {
        var items: UnsafeMutablePointer<uv_env_item_t>?
        var count: CInt = 0
        guard uvSucceeded(uv_os_environ(&items, &count)), let items else { return [:] }
        defer { uv_os_free_environ(items, count) }
        var environment: [String: String] = [:]
        for item in UnsafeBufferPointer(start: items, count: Int(count)) {
            environment[String(cString: item.name)] = String(cString: item.value)
        }
        return environment
    }

    /// The pipe to the child's descriptor `number`, when it was made a `.pipe` or `.ipcPipe`.
    public func pipe(_ number: Int) -> UnixConnection? {
        checkThread()
        return pipes[number]
    }

    /// The child's stdin, when descriptor 0 was `.pipe`.
    public var standardInput: UnixConnection? { pipe(0) }
    /// The child's stdout, when descriptor 1 was `.pipe`.
    public var standardOutput: UnixConnection? { pipe(1) }
    /// The child's stderr, when descriptor 2 was `.pipe`.
    public var standardError: UnixConnection? { pipe(2) }

    /// How the child ended; nil while it runs.
    public var exitStatus: Termination? {
        checkThread()
        return ended
    }

    /// Sends `signal` to the child; throws `.noSuchProcess` once it has ended. The corresponding C function is
    /// `uv_process_kill`.
    public func kill(_ signal: Signal.Number = .terminate) throws(UVError) {
        checkThread()
        guard lifecycle == .open, ended == nil else {
            throw UVError(UV_ESRCH.rawValue, operation: "signal", target: "process \(pid) (\(executable))")
        }
        try uvCheck(uv_process_kill(rawHandle.cast(to: uv_process_t.self), signal.rawValue),
                    "signal", target: "process \(pid) (\(executable))")
    }

    /// Waits until the child ends (returns at once if it has) and says how. Throws `.canceled` if the
    /// handle is closed while the child runs, or `CancellationError`.
    public func termination() async throws -> Termination {
        try await loop.suspend(
            { [self] wake in
                if let ended { return wake.resume(.success(ended)) }
                guard lifecycle == .open else {
                    return wake.resume(.failure(UVError.canceled.during("wait for", target: "process \(pid)")))
                }
                waiters.append(wake)
            },
            abandon: {})
    }

    private static let exited: uv_exit_cb = { raw, status, signal in
        Handle.callback(raw, as: ChildProcess.self) { child in
            let termination: Termination = signal != 0 ? .signaled(signal) : .exited(Int32(truncatingIfNeeded: status))
            child.ended = termination
            let onExit = child.onExit
            child.onExit = nil
            onExit?(termination)
            child.resumeWaiters(.success(termination))
            child.close()
        }
    }

    private func resumeWaiters(_ result: Result<Termination, any Error>) {
        let waiting = waiters
        waiters = []
        for wake in waiting { wake.resume(result) }
    }

    override func didEnter(_ state: State) {
        if state == .closing, ended == nil {
            resumeWaiters(.failure(UVError.canceled.during("wait for", target: "process \(pid)")))
        }
        if state == .closed { onExit = nil }
        super.didEnter(state)
    }
}

extension UVError {
    /// No such process. The corresponding libuv error is `UV_ESRCH`.
    public static var noSuchProcess: UVError { .init(rawValue: UV_ESRCH.rawValue) }
}

extension Signal.Number: CustomStringConvertible {
    /// `SIGTERM`, `SIGKILL`, … (the number for one without a common name).
    public var description: String {
        switch rawValue {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGPIPE: "SIGPIPE"
        case SIGTERM: "SIGTERM"
        case SIGABRT: "SIGABRT"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        default: "signal \(rawValue)"
        }
    }
}

/// C strings for `argv`/`envp`: each copied once, the array NULL-terminated, freed with this value.
private final class CStrings {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointers = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointers[index] = strdup(string) }
        pointers[strings.count] = nil
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}

private func withOptionalCString<Result>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
    guard let string else { return body(nil) }
    return string.withCString(body)
}
