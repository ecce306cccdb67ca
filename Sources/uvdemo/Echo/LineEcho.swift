// The seeds' socketserver example: a line-framed echo that sends each line back in upper case.
import UVNet

enum LineEcho {
    /// The longest line accepted; a longer one ends its connection with an error line.
    static let maximumLine = 64 * 1024

    /// `line` with ASCII letters upper-cased (other bytes, UTF-8 included, pass unchanged), and a newline.
    static func reply(to line: UnsafeRawBufferPointer) -> [UInt8] {
        line.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) ? $0 - 32 : $0 } + [UInt8(ascii: "\n")]
    }

    /// Serves one connection with the callback API.
    static func serve(_ connection: some ByteStream, console: Console, finished: @escaping () -> Void) {
        var lines = DelimiterFramer(maximumFrameLength: maximumLine)
        let end = {
            connection.shutdown { _ in connection.close() }
            finished()
        }
        connection.startReading { chunk in
            switch chunk {
            case .success(let bytes):
                do {
                    try lines.feed(bytes) { connection.write(reply(to: $0)) }
                } catch {
                    connection.write("error: \(error)\n")
                    connection.stopReading()
                    end()
                }
            case .failure(let error):
                if (error as? UVError) != .eof { console.error("\(error)") }
                end()
            }
        }
    }

    /// Serves one connection with async/await.
    static func serve(_ connection: some ByteStream) async throws {
        do {
            for try await line in connection.inbound().frames(DelimiterFramer(maximumFrameLength: maximumLine)) {
                try await connection.write(line.withUnsafeBytes { reply(to: $0) })
            }
        } catch let error as UVError where error == .messageTooLong {
            try await connection.write("error: \(error)\n")
        }
        try await connection.shutdown()
    }
}
