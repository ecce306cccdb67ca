// This program's own executable, for starting copies of it: a pre-fork server's workers, the tour's
// servers and clients.
import Glibc

enum ThisProgram {
    /// The path of the running executable (as the kernel knows it, whatever directory it was run from).
    static let path: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}
