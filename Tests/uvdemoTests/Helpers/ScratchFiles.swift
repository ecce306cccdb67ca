// Files a test writes for the processes it starts to read (a hosts file, a script), in a directory of
// their own that goes away with them.
import Foundation

/// A fresh directory holding the files given, by name; removed when the value goes away.
final class ScratchFiles {
    let directory: URL

    init(_ files: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-scratch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, contents) in files { try Data(contents.utf8).write(to: directory.appendingPathComponent(name)) }
    }

    /// The path of `name` in the directory (written or not).
    func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }
}
