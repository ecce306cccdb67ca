// A demo's stdout and stderr caught in anonymous temporary files, so the tour can check what it printed.
import Glibc

final class CapturedOutput {
    let streams: Output.Streams

    init() throws(DemoFailure) {
        streams = Output.Streams(standardOutput: try Self.anonymousFile(), standardError: try Self.anonymousFile())
    }

    deinit {
        close(streams.standardOutput)
        close(streams.standardError)
    }

    var standardOutput: String { Self.contents(of: streams.standardOutput) }
    var standardError: String { Self.contents(of: streams.standardError) }

    private static func anonymousFile() throws(DemoFailure) -> CInt {
        let (descriptor, path) = SystemFiles.makeUnique("/tmp/uvdemo-output.XXXXXX") { mkstemp($0) }
        guard descriptor >= 0 else { throw .system("create a file in", "/tmp") }
        unlink(path)
        return descriptor
    }

    private static func contents(of descriptor: CInt) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, offset) }
            guard count > 0 else { break }
            bytes += buffer[..<count]
            offset += off_t(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
