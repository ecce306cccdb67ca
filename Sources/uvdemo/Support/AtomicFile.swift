// A file replaced all at once: written under a temporary name beside it and renamed over it only when
// complete, so a reader (or a failed download) never sees half of it.
import Glibc

final class AtomicFile {
    let path: String
    private let temporaryPath: String
    private var descriptor: CInt
    private var isFinished = false

    /// Creates the temporary file beside `path`; nothing at `path` changes until `commit()`.
    init(replacing path: String) throws(DemoFailure) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw .usage("'\(path)' names a directory, not a file") }
        (descriptor, temporaryPath) = SystemFiles.makeUnique("\(directory).\(name).XXXXXX") { mkstemp($0) }
        guard descriptor >= 0 else {
            // A directory that is missing or not writable is the user's to fix.
            throw .system("create a file in", directory.isEmpty ? "." : directory, exitCode: DemoFailure.badUsage)
        }
        // mkstemp makes the file 0600; give it what the file it replaces had, or what a new file gets.
        var existing = stat()
        let mode = stat(path, &existing) == 0 ? existing.st_mode & 0o7777 : 0o666 & ~Self.umaskValue
        fchmod(descriptor, mode)
    }

    deinit { discard() }

    /// Fails, as `init` would, when the directory that is to hold `path` is missing or not writable:
    /// checked before any work whose result would then have nowhere to go.
    static func checkDirectory(of path: String) throws(DemoFailure) {
        let directory = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "."
        guard access(directory, W_OK | X_OK) == 0 else {
            throw .system("create a file in", directory, exitCode: DemoFailure.badUsage)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(DemoFailure) {
        guard SystemFiles.writeAll(bytes, to: descriptor) else { throw .system("write", temporaryPath) }
    }

    /// Puts the complete file in place of `path`.
    func commit() throws(DemoFailure) {
        guard !isFinished else { return }
        guard close(descriptor) == 0 else {
            let failure = DemoFailure.system("write", temporaryPath)
            discard()
            throw failure
        }
        isFinished = true
        guard rename(temporaryPath, path) == 0 else {
            let failure = DemoFailure.system("rename \(temporaryPath) to", path)
            unlink(temporaryPath)
            throw failure
        }
    }

    /// Removes the temporary file; `path` stays as it was.
    func discard() {
        guard !isFinished else { return }
        isFinished = true
        close(descriptor)
        unlink(temporaryPath)
    }

    /// The process's umask (reading it means setting it, so it is set straight back).
    private static var umaskValue: mode_t {
        let mask = umask(0o022)
        umask(mask)
        return mask
    }
}
