// Files read without stalling the loop: a slow disk holds up a pool thread, never the loop and its connections.
import CUV
import Glibc

/// A file opened for reading, for async code on a loop: `open` and any read that would wait for the
/// disk run on libuv's thread pool (`uv_fs_open`, `uv_fs_read`); a read of bytes the page cache holds
/// is done on the loop's thread, with no hop (`preadv2` with `RWF_NOWAIT`).
///
/// ```swift
/// let file = try await File.open("/srv/www/index.html", on: loop)
/// let size = try file.status().size
/// let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
/// defer { bytes.deallocate() }
/// let count = try await file.read(into: bytes, at: 0)
/// ```
/// Reads are positional, so several tasks may read one `File` at once. The descriptor is closed when
/// the last reference to the `File` goes away. A file's pool work is not canceled with its task: a
/// read that has begun finishes (it is short), then the task sees its cancellation at its next await.
public final class File: Sendable {
    /// The loop whose thread pool and thread the file is read with.
    public let loop: Loop
    /// The open descriptor (read only, close-on-exec); valid as long as this `File` is.
    public let descriptor: CInt
    /// The path it was opened by, for error messages.
    public let path: String

    private init(loop: Loop, descriptor: CInt, path: String) {
        self.loop = loop
        self.descriptor = descriptor
        self.path = path
    }

    deinit {
        // Closing a file opened for reading does not wait for the disk.
        Glibc.close(descriptor)
    }

    /// Opens `path` for reading, on the thread pool. Throws the error naming the path (`UVError.noSuchFile`,
    /// `.permissionDenied`, …). The corresponding C function is `uv_fs_open`.
    public static func open(_ path: String, on loop: Loop) async throws -> File {
        let descriptor = try await onThreadPool(loop, PoolWork(path: path)) { request, _, finished in
            uv_fs_open(loop.raw, request, path, O_RDONLY | O_CLOEXEC, 0, finished)
        }
        return File(loop: loop, descriptor: CInt(descriptor), path: path)
    }

    /// What `fstat` says about an open file: its size and when it last changed, and which file it is.
    public struct Status: Sendable, Equatable {
        /// The length in bytes.
        public let size: Int
        /// The last modification, in seconds since the epoch.
        public let modifiedSeconds: Int
        /// The nanoseconds of the last modification past `modifiedSeconds`.
        public let modifiedNanoseconds: Int
        /// The device the file is on: with `inode`, which file this is.
        public let device: UInt64
        /// The file's inode number on its device.
        public let inode: UInt64
        /// True for a regular file (not a directory, device, socket, …).
        public let isRegularFile: Bool
    }

    /// The file's size, modification time and identity now. An open file's metadata is in memory, so
    /// this does not wait for the disk. The corresponding C function is `fstat`.
    public func status() throws(UVError) -> Status {
        var status = stat()
        try posixCheck(fstat(descriptor, &status), "stat", target: path)
        return Status(
            size: Int(status.st_size), modifiedSeconds: Int(status.st_mtim.tv_sec),
            modifiedNanoseconds: Int(status.st_mtim.tv_nsec), device: UInt64(status.st_dev),
            inode: UInt64(status.st_ino), isRegularFile: status.st_mode & S_IFMT == S_IFREG)
    }

    /// Reads up to `buffer.count` bytes at `offset` into `buffer`; returns how many (0 at the end; fewer than asked
    /// when the file ends sooner, or when only part of the range was cached). `buffer` must stay valid until this
    /// returns; it is written on the loop's thread only. The corresponding C function is `uv_fs_read`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) async throws -> Int {
        precondition(offset >= 0, "File.read: a negative offset")
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0 }
        if loop.isOnLoopThread {
            // EAGAIN: not cached (or the kernel cannot tell), so the pool reads it.
            let cached = cuv_read_cached(descriptor, base, buffer.count, Int64(offset))
            if let count = try uvCheck(cached, "read", target: path, tolerating: .tryAgain) { return Int(count) }
        }
        // On the pool the bytes land in memory of the request's own, copied into `buffer` on the loop's
        // thread while this task still waits: a wait that ends early (its loop closing) must not leave
        // the pool writing into memory the caller has let go of.
        let work = PoolWork(path: path, file: self, destination: buffer)
        let (count, descriptor, loop) = (buffer.count, descriptor, loop)
        return try await Self.onThreadPool(loop, work) { request, scratch, finished in
            var slice = uv_buf_t(base: scratch?.baseAddress?.assumingMemoryBound(to: CChar.self), len: count)
            return uv_fs_read(loop.raw, request, uv_file(descriptor), &slice, 1, Int64(offset), finished)
        }
    }

    /// Runs one `uv_fs_*` call on the thread pool and awaits its result (a count or a descriptor) or its error, named
    /// by the work's operation and path. Not canceled with the task: pool work that has begun cannot be taken back.
    private static func onThreadPool(
        _ loop: Loop, _ work: PoolWork,
        _ submit: @escaping @Sendable (UnsafeMutablePointer<uv_fs_t>, UnsafeMutableRawBufferPointer?, uv_fs_cb) -> CInt
    ) async throws -> Int {
        try await loop.suspendUntilDone { (wake: Wake<Int>) in
            let request = UnsafeMutablePointer<uv_fs_t>.allocate(capacity: 1)
            work.wake = wake
            request.pointee.data = Unmanaged.passRetained(work).toOpaque()
            do {
                try uvCheck(
                    submit(request, work.scratch, { request in
                        guard let request else { return }
                        let work = Unmanaged<PoolWork>.fromOpaque(request.pointee.data).takeRetainedValue()
                        let result = request.pointee.result
                        uv_fs_req_cleanup(request)
                        request.deallocate()
                        work.finish(result)
                    }), work.operation, target: work.path)
            } catch {
                Unmanaged<PoolWork>.fromOpaque(request.pointee.data).release()
                request.deallocate()
                wake.resume(.failure(error))
            }
        }
    }
}

/// A `uv_fs_t`'s Swift side while the pool works on it: whom to tell, what to call an error, and what must live until
/// it ends, whether or not its task still waits (the `File` whose descriptor it reads, the memory it reads into).
private final class PoolWork: @unchecked Sendable {  // its lets are set before it is shared; `wake` is set and `finish` runs on the loop's thread, where `Wake.resume` checks
    let path: String
    var wake: Wake<Int>?
    /// Kept open until the read ends: closed while the pool reads, its number could go to another file or socket.
    private let file: File?
    /// Where the read lands on the pool, and where it goes once the task is known to still wait.
    let scratch: UnsafeMutableRawBufferPointer?
    private let destination: UnsafeMutableRawBufferPointer?

    /// Opening `path`; or, given a `file` (opened by `path`), reading it into `destination`.
    init(path: String, file: File? = nil, destination: UnsafeMutableRawBufferPointer? = nil) {
        self.path = path
        self.file = file
        self.destination = destination
        scratch = destination.map { .allocate(byteCount: $0.count, alignment: 16) }
    }

    /// True when the answer is a new descriptor, to be closed if nobody waits for it any more.
    private var opens: Bool { file == nil }
    /// What errors call the work.
    var operation: String { opens ? "open" : "read" }

    deinit {
        scratch?.deallocate()
    }

    /// The pool's answer: a count, a descriptor or a negative error code.
    func finish(_ result: Int) {
        // A descriptor or a count of at most a read's ~2 GiB: it fits a CInt.
        let outcome = Result { () throws(UVError) in Int(try uvCheck(CInt(result), operation, target: path)) }
        guard let wake, wake.isPending else {
            // The wait ended before the work (its loop closed): let go of what the work made.
            if opens, case .success(let descriptor) = outcome { Glibc.close(CInt(descriptor)) }
            return
        }
        if case .success(let count) = outcome, count > 0, let scratch, let destination {
            destination.baseAddress!.copyMemory(from: scratch.baseAddress!, byteCount: count)
        }
        wake.resume(outcome.mapError { $0 })
    }
}
