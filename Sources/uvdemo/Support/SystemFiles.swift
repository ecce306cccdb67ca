// The few POSIX file steps several demos share: writing every byte of a buffer, and creating uniquely
// named temporary files and directories.
import Glibc

enum SystemFiles {
    /// Writes all of `bytes` to `descriptor`, again after a signal interrupts. False on an error (in errno).
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: CInt) -> Bool {
        var rest = bytes
        while let base = rest.baseAddress, !rest.isEmpty {
            let written = write(descriptor, base, rest.count)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[written...])
        }
        return true
    }

    /// Creates a file (`mkstemp`) or directory (`mkdtemp`) after `template`, whose last six characters
    /// are XXXXXX; returns what `create` returned and the name it chose.
    static func makeUnique<Made>(
        _ template: String, _ create: (UnsafeMutablePointer<CChar>) -> Made
    ) -> (made: Made, path: String) {
        var name = Array(template.utf8CString)
        let made = name.withUnsafeMutableBufferPointer { create($0.baseAddress!) }
        return (made, String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
