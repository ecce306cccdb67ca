// Rules about UVNet's source and API that no other test sees: libuv, POSIX and OpenSSL return codes
// pass through one choke point per library (UVNet's Internals/Check.swift, UVNetTLS's
// Internals/OpenSSLCheck.swift), so every failure becomes an error naming what failed; and the
// calls that block their thread are refused in async code, by the compiler.
import Foundation
import Glibc
import Testing
import UVNetTestSupport

@Suite("Source rules")
struct SourceRulesTests {
    /// Sources/UVNet, found from this file's place in the repository.
    private static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/UVNet")

    /// Each library with its choke point: the one file that may compare a return code by hand. (The
    /// test support's certificate authority calls OpenSSL through UVNetTLS's.)
    private static let libraries = [("UVNet", "Check.swift"), ("UVNetTLS", "OpenSSLCheck.swift"), ("UVNetTestSupport", "")]

    /// A line that compares a return code or a status by hand: a variable named for one, a libuv error
    /// constant, or a C call's result (a snake_case name, or a POSIX call) against a number.
    private static let comparison = try! NSRegularExpression(
        pattern: #"\b(rc|status)\s*(==|!=|<|>|<=|>=)|UV_E[A-Z_]+\.rawValue\s*(==|!=)|(==|!=)\s*UV_E[A-Z_]+\.rawValue|\b([A-Za-z0-9]*_[A-Za-z0-9_]*|stat|access|open|close|dup|fchmod|chmod|unlink|listen|bind|connect|setsockopt|getsockopt|write|read)\((?:[^()]|\([^()]*\))*\)\s*(==|!=|<=|>=|<|>)\s*-?[0-9]"#)

    /// The calls whose result is an answer (a flag, a count), not a success or a failure.
    private static let answers: Set<String> = [
        "uv_run", "uv_is_closing", "uv_is_active", "uv_has_ref", "uv_pipe_pending_count",
        "BIO_ctrl_pending", "SSL_pending", "SSL_is_init_finished", "CRYPTO_memcmp",
    ]

    @Test("no file but a library's choke point compares a libuv, POSIX or OpenSSL return code by hand")
    func returnCodesPassTheChokePoint() throws {
        var offenders: [String] = []
        for (library, chokePoint) in Self.libraries {
            let folder = Self.sources.deletingLastPathComponent().appendingPathComponent(library)
            let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)!
                .compactMap { $0 as? URL }
                .filter { $0.pathExtension == "swift" && $0.lastPathComponent != chokePoint }
            #expect(files.count > 3, "found no sources under \(folder.path)")
            for file in files {
                for (number, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let code = String(line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                    let range = NSRange(code.startIndex..., in: code)
                    let matches = Self.comparison.matches(in: code, range: range).filter { match in
                        let call = match.range(at: 5)
                        return call.location == NSNotFound || !Self.answers.contains((code as NSString).substring(with: call))
                    }
                    if !matches.isEmpty {
                        offenders.append("\(library)/\(file.lastPathComponent):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
                    }
                }
            }
        }
        #expect(offenders.isEmpty, "compare return codes through the choke point:\n\(offenders.joined(separator: "\n"))")
    }

    @Test("the calls that block their thread are flagged by the compiler in async code")
    func blockingCallsAreNoasync() throws {
        let snippet = """
            import UVNet
            func inAsyncCode() async throws {
                let loop = try Loop()
                loop.run()
                try loop.close()
                let group = try LoopGroup(loopCount: 1)
                _ = try group.listen(on: SocketAddress(ip: "127.0.0.1", port: 0)) { _ in }
                group.shutdownGracefully()
                group.shutdown()
            }
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("noasync-\(getpid()).swift")
        try snippet.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // The modules this test binary was built with sit beside it.
        let modules = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("Modules")
        let compiler = Process()
        compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compiler.arguments = [
            "swiftc", "-typecheck", "-swift-version", "6", "-I", modules.path,
            "-I", Self.sources.deletingLastPathComponent().appendingPathComponent("CUV").path, file.path,
        ]
        let output = Pipe()
        compiler.standardError = output
        compiler.standardOutput = output
        try compiler.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        compiler.waitUntilExit()
        // Each line is refused: Loop's as unavailable in async code; LoopGroup's resolve to its async
        // forms, which then want an `await`.
        let refused = text.split(separator: "\n").filter { $0.hasPrefix(file.path) && $0.contains(": error: ") }
        let lines = Set(refused.compactMap { $0.dropFirst(file.path.count + 1).split(separator: ":").first.flatMap { Int($0) } })
        #expect(lines == Set(3...9), "\(text)")
        #expect(refused.filter { $0.contains("unavailable from asynchronous contexts") }.count >= 3, "\(text)")
    }
}
