// Rules about UVNet's source and API that no other test sees: libuv return codes pass through one
// choke point (Internals/Check.swift), so every failure becomes a UVError naming what failed; and the
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

    /// A line that compares a return code or a status by hand.
    private static let comparison = try! NSRegularExpression(
        pattern: #"\b(rc|status)\s*(==|!=|<|>|<=|>=)|UV_E[A-Z_]+\.rawValue\s*(==|!=)|(==|!=)\s*UV_E[A-Z_]+\.rawValue"#)

    @Test("no file but the choke point compares a libuv return code by hand")
    func returnCodesPassTheChokePoint() throws {
        let files = FileManager.default.enumerator(at: Self.sources, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" && $0.lastPathComponent != "Check.swift" }
        #expect(files.count > 10, "found no sources under \(Self.sources.path)")
        var offenders: [String] = []
        for file in files {
            for (number, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = String(line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                let range = NSRange(code.startIndex..., in: code)
                if Self.comparison.firstMatch(in: code, range: range) != nil {
                    offenders.append("\(file.lastPathComponent):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        #expect(offenders.isEmpty, "compare return codes through uvCheck:\n\(offenders.joined(separator: "\n"))")
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
