// The files the tour serves and fetches: an 8 MiB file of pseudo-random bytes, known by its SHA-256,
// and a directory with an index page.
import Glibc
import UVNetTLS

struct TourDownload {
    static let size = 8 << 20
    static let indexPage = "<!doctype html><title>uvdemo tour</title><p>served by uvdemo serve</p>\n"

    let name = "tour.bin"
    let digest: [UInt8]

    /// Writes the files into `directory`.
    init(in directory: String) throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var bytes = [UInt8](repeating: 0, count: Self.size)
        for index in bytes.indices {
            // xorshift64: fast, and enough to make every byte of the file matter.
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        try Self.write(bytes, to: directory + "/" + name)
        guard mkdir(directory + "/pages", 0o755) == 0 else { throw DemoFailure.system("create directory", directory + "/pages") }
        try Self.write(Array(Self.indexPage.utf8), to: directory + "/pages/index.html")
        digest = SHA256.hash(bytes)
    }

    static func digest(of path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DemoFailure.system("open", path) }
        defer { close(descriptor) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            guard count > 0 else { break }
            hash.update(buffer[..<count])
        }
        return hash.finalize()
    }

    private static func write(_ bytes: [UInt8], to path: String) throws {
        let file = try AtomicFile(replacing: path)
        try bytes.withUnsafeBytes { try file.write($0) }
        try file.commit()
    }
}

/// A directory under /tmp, removed with everything in it when this goes away.
final class TemporaryDirectory {
    let path: String

    init() throws(DemoFailure) {
        let (made, path) = SystemFiles.makeUnique("/tmp/uvdemo-tour.XXXXXX") { mkdtemp($0) }
        guard made != nil else { throw .system("create a directory in", "/tmp") }
        self.path = path
    }

    deinit { remove(path) }

    private func remove(_ path: String) {
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                guard name != "." && name != ".." else { continue }
                let child = path + "/" + name
                if entry.pointee.d_type == UInt8(DT_DIR) { remove(child) } else { unlink(child) }
            }
            closedir(directory)
        }
        rmdir(path)
    }
}
