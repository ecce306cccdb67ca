// Unix-domain sockets: echo, a slow reader, stale and live socket files, long paths, credentials,
// permissions, abstract names.
import Foundation
import Glibc
import Testing
import UVNet
import UVNetTestSupport

/// A fresh directory for socket files, removed by the caller.
func socketDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "uvnet-unix-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    return path
}

@Suite("Unix-domain sockets")
struct UnixTests {
    @Test("an echo over a Unix socket returns the bytes; the socket file is gone after close")
    func echo() throws {
        let directory = try socketDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/echo.sock"
        try withLoop { loop in
            let listener = try UnixListener(on: loop, path: path)
            let payload = pattern(count: 100_000)
            let echoed = try loop.run {
                async let served: Void = listener.serve { connection in
                    for try await chunk in connection.inbound() { try await connection.write(chunk) }
                    try await connection.shutdown()
                }
                let echoed = try await UnixConnection.withConnection(to: path, on: loop) { connection in
                    try await connection.write(payload)
                    try await connection.shutdown()
                    return try await readAll(connection)
                }
                await listener.close()
                try await served
                return echoed
            }
            #expect(echoed == payload)
        }
        #expect(!FileManager.default.fileExists(atPath: path), "the socket file outlived its listener")
    }

    @Test("8 MiB through one Unix connection to a slow reader arrives whole and in order")
    func slowReader() throws {
        let directory = try socketDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let payload = pattern(count: 8 * 1024 * 1024, seed: 11)
        try withLoop { loop in
            let listener = try UnixListener(on: loop, path: directory + "/slow.sock")
            let received = try loop.run {
                async let served: Void = listener.serve { connection in
                    try await connection.write(payload)
                    try await connection.shutdown()
                }
                let received = try await UnixConnection.withConnection(to: listener.path, on: loop) { connection in
                    var received: [UInt8] = []
                    var chunks = 0
                    for try await chunk in connection.inbound(highWatermark: 64 * 1024, lowWatermark: 16 * 1024) {
                        received += chunk
                        chunks += 1
                        if chunks % 8 == 0 { try await loop.sleep(for: .milliseconds(1)) }
                    }
                    return received
                }
                await listener.close()
                try await served
                return received
            }
            let arrivedWhole = received == payload
            #expect(received.count == payload.count)
            #expect(arrivedWhole)
        }
    }

    @Test("a stale socket file is replaced; a live server's is refused with .addressInUse and left alone")
    func staleAndLive() throws {
        let directory = try socketDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/server.sock"
        // A socket file left behind: bound, never listened on, its descriptor closed.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (index, byte) in path.utf8.enumerated() { bytes[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(stale)
        #expect(FileManager.default.fileExists(atPath: path))
        try withLoop { loop in
            let live = try UnixListener(on: loop, path: path)  // replaces the stale file
            let error = #expect(throws: UVError.self) { _ = try UnixListener(on: loop, path: path) }
            #expect(error == .addressInUse)
            #expect(error?.description.contains("a server is listening there") == true, "\(String(describing: error))")
            #expect(FileManager.default.fileExists(atPath: path), "a live server's socket file was removed")
            live.close()
        }
        // A plain file is in the way: refused, untouched.
        _ = FileManager.default.createFile(atPath: path, contents: Data("keep".utf8))
        try withLoop { loop in
            #expect(throws: UVError.addressInUse) { _ = try UnixListener(on: loop, path: path) }
        }
        #expect(FileManager.default.contents(atPath: path) == Data("keep".utf8))
    }

    @Test("a path too long for a socket is refused, naming the limit; a missing directory is .noSuchFile")
    func badPaths() throws {
        try withLoop { loop in
            let long = "/tmp/" + String(repeating: "x", count: 110)
            let error = #expect(throws: UVError.self) { _ = try UnixListener(on: loop, path: long) }
            #expect(error == .nameTooLong)
            #expect(error?.description.contains("at most 107") == true, "\(String(describing: error))")
            let connection = try UnixConnection(on: loop)
            #expect(throws: UVError.nameTooLong) { try connection.connect(to: long) { _ in } }
            connection.close()
            #expect(throws: UVError.noSuchFile) { _ = try UnixListener(on: loop, path: "/nonexistent-dir-\(getpid())/s.sock") }
        }
    }

    @Test("peer credentials are the client's pid, uid and gid; the mode is set on the socket file")
    func credentialsAndMode() throws {
        let directory = try socketDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/creds.sock"
        try withLoop { loop in
            let listener = try UnixListener(on: loop, path: path, mode: 0o600)
            var info = stat()
            #expect(stat(path, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            let credentials = try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                let credentials = try server.peerCredentials
                #expect(try client.peerPath == path)
                #expect(try server.localPath == path)
                for handle in [client, server] as [Handle] + [listener] { await handle.close() }
                return credentials
            }
            #expect(credentials == PeerCredentials(processID: getpid(), userID: getuid(), groupID: getgid()))
        }
    }

    @Test("an abstract name (@name) listens and connects with no file")
    func abstractName() throws {
        let name = "@uvnet-test-\(getpid())"
        try withLoop { loop in
            let listener = try UnixListener(on: loop, path: name)
            let reply = try loop.run {
                async let served: Void = listener.serve { connection in
                    for try await chunk in connection.inbound() { try await connection.write(chunk) }
                    try await connection.shutdown()
                }
                let reply = try await UnixConnection.withConnection(to: name, on: loop) { connection in
                    try await connection.write("abstract")
                    try await connection.shutdown()
                    return try await readAll(connection)
                }
                await listener.close()
                try await served
                return reply
            }
            #expect(reply == Array("abstract".utf8))
        }
    }

    @Test("connecting where nobody listens is .connectionRefused or .noSuchFile, naming the path")
    func refused() throws {
        try withLoop { loop in
            let error = try loop.run {
                await #expect(throws: UVError.self) {
                    _ = try await UnixConnection.connect(to: "/tmp/nobody-\(getpid()).sock", on: loop)
                }
            }
            #expect(error == .noSuchFile)
            #expect(error?.description.contains("unix:/tmp/nobody-") == true, "\(String(describing: error))")
        }
    }
}
