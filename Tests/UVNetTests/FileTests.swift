// File: opening and reading on a loop, from the page cache on the loop's thread or on the thread pool.
import Foundation
import Testing
import UVNet
import UVNetTestSupport

@Suite("File")
struct FileTests {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-file-\(UUID().uuidString)").path
    let contents = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / 256) }

    init() throws {
        try Data(contents).write(to: URL(fileURLWithPath: path))
    }

    /// What this process's open descriptors lead to.
    static func openDescriptorPaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") }
    }

    /// Reads the whole file in pieces of `piece` bytes, from wherever the calling task runs.
    static func readAll(_ file: File, piece: Int) async throws -> [UInt8] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piece, alignment: 1)
        defer { buffer.deallocate() }
        var bytes: [UInt8] = []
        while true {
            let count = try await file.read(into: buffer, at: bytes.count)
            if count == 0 { return bytes }
            bytes += buffer[..<count]
        }
    }

    @Test("reads every byte, on the loop's thread and from a task elsewhere (the thread pool's way)")
    func readsEveryByte() throws {
        let loop = try Loop()
        // Another loop's thread reads too: the file's loop is not its own, so its reads go to the pool.
        // (Not Task.detached: this test blocks a thread of the global pool, and another may block the other.)
        let elsewhere = try LoopGroup(loopCount: 1)
        defer { elsewhere.shutdown() }
        let (onLoop, offLoop, status) = try loop.run { [path] in
            let file = try await File.open(path, on: loop)
            // Out of the page cache where the file system allows it: the loop's thread then finds the
            // bytes not cached and reads them on the pool.
            _ = posix_fadvise(file.descriptor, 0, 0, POSIX_FADV_DONTNEED)
            let onLoop = try await Self.readAll(file, piece: 64 * 1024)
            let offLoop = try await Task(executorPreference: elsewhere.loops[0].taskExecutor) {
                try await Self.readAll(file, piece: 100_000)
            }.value
            return (onLoop, offLoop, try file.status())
        }
        try loop.close()
        #expect(onLoop.count == contents.count && onLoop.elementsEqual(contents))
        #expect(offLoop.count == contents.count && offLoop.elementsEqual(contents))
        #expect(status.size == contents.count && status.isRegularFile)
    }

    @Test("a read past the end returns 0; a missing file's error names it; the descriptor closes with the File")
    func edges() throws {
        let loop = try Loop()
        let missing = path + ".missing"
        let (pastEnd, error) = try loop.run { [path] in
            let file = try await File.open(path, on: loop)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 1)
            defer { buffer.deallocate() }
            let pastEnd = try await file.read(into: buffer, at: 1 << 30)
            var error: UVError?
            do {
                _ = try await File.open(missing, on: loop)
            } catch let failure as UVError {
                error = failure
            }
            return (pastEnd, error)
        }
        try loop.close()
        #expect(pastEnd == 0)
        #expect(error == .noSuchFile)
        #expect(error?.target == missing)
        #expect(!Self.openDescriptorPaths().contains(path), "closed once the last reference went")
    }
}
