// The server's local time as text: strftime formats and the classic ctime style.
import Glibc

enum LocalTime {
    /// The format an empty request asks for.
    static let defaultFormat = "%Y-%m-%d %X"
    /// Formats longer than this get an error reply.
    static let maximumFormatLength = 256
    private static let maximumOutput = 1024

    /// Why a request cannot be answered with a time.
    enum FormatError: Error, CustomStringConvertible {
        case notUTF8, tooLong(Int), noOutput

        var description: String {
            switch self {
            case .notUTF8: "the format is not valid UTF-8"
            case .tooLong(let length): "the format is \(length) bytes; at most \(LocalTime.maximumFormatLength) are accepted"
            case .noOutput: "the format produced no output (or more than \(LocalTime.maximumOutput) bytes)"
            }
        }
    }

    /// Now, formatted by the strftime `format` in raw bytes (empty: `defaultFormat`).
    static func formatted(_ request: UnsafeRawBufferPointer) -> Result<String, FormatError> {
        guard request.count <= maximumFormatLength else { return .failure(.tooLong(request.count)) }
        guard let format = String(validating: request, as: UTF8.self) else { return .failure(.notUTF8) }
        return formatted(format.isEmpty ? defaultFormat : format)
    }

    /// Now, formatted by the strftime `format`. The corresponding C function is `strftime`.
    static func formatted(_ format: String) -> Result<String, FormatError> {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: maximumOutput) { buffer in
            let count = strftime(buffer.baseAddress, buffer.count, format, &parts)
            guard count > 0 else { return .failure(.noOutput) }
            return .success(String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self))
        }
    }

    /// Now as `ctime` writes it, without the newline: `Mon Nov 23 00:35:44 2026`.
    static func ctimeStyle() -> String {
        (try? formatted("%a %b %e %H:%M:%S %Y").get()) ?? "?"
    }
}
