// Child processes: output through a pipe, exit status and signal, environment and directory, input,
// a missing executable, kill.
import Glibc
import Testing
import UVNet
import UVNetTestSupport

@Suite("Child processes")
struct ChildProcessTests {
    @Test("a child's stdout comes through a pipe, and its exit status once")
    func outputAndStatus() throws {
        try withLoop { loop in
            var exits: [ChildProcess.Termination] = []
            let child = try ChildProcess(
                on: loop, executable: "/bin/sh", arguments: ["-c", "echo hello; exit 3"],
                descriptors: [.ignore, .pipe, .inherit]) { exits.append($0) }
            let (output, termination) = try loop.run {
                (try await readAll(child.standardOutput!), try await child.termination())
            }
            #expect(String(decoding: output, as: UTF8.self) == "hello\n")
            #expect(termination == .exited(3))
            #expect(exits == [.exited(3)])
            #expect(child.state == .closed, "the handle closes itself once the child has exited")
        }
    }

    @Test("environment, working directory and stdin reach the child")
    func environmentDirectoryInput() throws {
        try withLoop { loop in
            let child = try ChildProcess(
                on: loop, executable: "sh", arguments: ["-c", "echo $GREETING; pwd; cat"],
                environment: ["GREETING": "hi", "PATH": "/usr/bin:/bin"], workingDirectory: "/tmp",
                descriptors: [.pipe, .pipe, .inherit])
            let output = try loop.run {
                try await child.standardInput!.write("from stdin\n")
                try await child.standardInput!.shutdown()
                let output = try await readAll(child.standardOutput!)
                #expect(try await child.termination() == .exited(0))
                await child.standardInput!.close()
                await child.standardOutput!.close()
                return output
            }
            #expect(String(decoding: output, as: UTF8.self) == "hi\n/tmp\nfrom stdin\n")
        }
    }

    @Test("kill ends a child with the signal, delivered once")
    func kill() throws {
        try withLoop { loop in
            let child = try ChildProcess(on: loop, executable: "/bin/sleep", arguments: ["30"], descriptors: [.ignore, .ignore, .ignore])
            #expect(child.processID > 0)
            try child.kill(.terminate)
            let termination = try loop.run { try await child.termination() }
            #expect(termination == .signaled(SIGTERM))
            #expect(termination.description == "signal 15 (SIGTERM)")
            #expect(throws: UVError.noSuchProcess) { try child.kill() }
        }
    }

    @Test("a missing executable is an error naming it, and leaves nothing open")
    func missingExecutable() throws {
        try withLoop { loop in
            let error = #expect(throws: UVError.self) {
                _ = try ChildProcess(on: loop, executable: "/no/such/program", descriptors: [.ignore, .pipe, .ignore])
            }
            #expect(error == .noSuchFile)
            #expect(error?.description.contains("/no/such/program") == true, "\(String(describing: error))")
            #expect(loop.openHandleCount == 0)
        }
    }
}
