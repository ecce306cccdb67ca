// The files a server answered with lately, kept open with what their responses need, so that a hot
// file costs no path resolution, open or stat per request. Like nginx's open_file_cache: bounded, and
// an entry is trusted for a second, then looked up again.
import Glibc
import UVNet

/// A file ready to be served: open, with its size, validators and type as of when it was looked up.
struct ServedFile {
    let file: File
    let size: Int
    let validators: HTTPValidators
    let contentType: String
}

/// Open files by request path, on one loop. A file replaced or changed on disk is seen within
/// `revalidateAfter`; until then its open descriptor keeps serving what was looked up (whole, since a
/// descriptor keeps an unlinked file's bytes).
final class OpenFileCache: Sendable {
    static let capacity = 256
    static let revalidateAfter = 1  // second

    private struct Entry {
        let served: ServedFile
        let checkedAt: Int
    }

    private let entries: LoopBound<[Substring: Entry]>

    init(on loop: Loop) {
        entries = LoopBound([:], on: loop)
    }

    /// The cached file for `path` when it was looked up within the last second.
    func cached(_ path: Substring, now: Int) -> ServedFile? {
        guard let entry = entries.value[path] else { return nil }
        guard now - entry.checkedAt < Self.revalidateAfter else {
            entries.value[path] = nil
            return nil
        }
        return entry.served
    }

    /// Opens `realPath` (on the thread pool) and keeps it for `path`; drops the longest-kept entry to
    /// make room. Throws what opening threw.
    func open(_ realPath: String, for path: Substring, on loop: Loop, now: Int) async throws -> ServedFile {
        let file = try await File.open(realPath, on: loop)
        let status = try file.status()
        let served = ServedFile(
            file: file, size: status.size,
            validators: HTTPValidators(size: status.size, modifiedSeconds: status.modifiedSeconds),
            contentType: StaticFiles.contentType(of: realPath))
        if entries.value.count >= Self.capacity, let oldest = entries.value.min(by: { $0.value.checkedAt < $1.value.checkedAt }) {
            entries.value[oldest.key] = nil
        }
        entries.value[path] = Entry(served: served, checkedAt: now)
        return served
    }
}
