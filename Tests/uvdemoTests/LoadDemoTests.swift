// The load generator against real servers: a clean run, a server that corrupts bytes, a refused port.
import Foundation
import Testing

@Suite("load")
struct LoadDemoTests {
    /// The numbers of a `--json` report.
    private func report(_ output: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(output)")
    }

    @Test("a second against the echo server: messages flow, none mismatched, exit 0", arguments: [["--depth", "4"], ["--udp", "--size", "200"]])
    func cleanRun(arguments: [String]) throws {
        let udp = arguments.contains("--udp")
        let server = try Demo(["echo-server", "--port", "0"] + (udp ? ["--udp"] : []))
        let port = try server.listeningPort()
        defer { server.signal(SIGTERM) }
        let load = try Demo.run(["load", "--port", "\(port)", "--duration", "1", "--connections", "4", "--json"] + arguments)
        #expect(load.status == 0, "\(load.stderr)")
        let numbers = try report(load.stdout)
        #expect((numbers["messages"] as? Int ?? 0) > 100)
        #expect(numbers["mismatches"] as? Int == 0)
        #expect(numbers["errors"] as? Int == 0)
        #expect(numbers["protocol"] as? String == (udp ? "udp" : "tcp"))
    }

    @Test("a server that flips a byte is caught: mismatches counted, exit 1")
    func corruptingServer() throws {
        let server = try Demo.pythonServer(
            """
            import socket, threading
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            print(listener.getsockname()[1], flush=True)
            def serve(connection):
                sent = 0
                while True:
                    data = connection.recv(65536)
                    if not data: break
                    data = bytearray(data)
                    if sent <= 5000 < sent + len(data):
                        data[5000 - sent] ^= 0xff
                    sent += len(data)
                    connection.sendall(data)
                connection.close()
            while True:
                connection, _ = listener.accept()
                threading.Thread(target=serve, args=(connection,), daemon=True).start()
            """)
        let port = try server.readLine()
        let load = try Demo.run(["load", "--port", port, "--duration", "1", "--connections", "1"])
        #expect(load.status == 1)
        #expect(load.stdout.contains("1 mismatches"), "\(load.stdout)")
        #expect(load.stderr.contains("came back changed"))
    }

    @Test("a refused port is counted and named, exit 1")
    func refused() throws {
        let probe = try Demo(["echo-server", "--port", "0"])
        let port = try probe.listeningPort()
        probe.signal(SIGTERM)
        _ = probe.wait()
        let load = try Demo.run(["load", "--port", "\(port)", "--duration", "0.2", "--connections", "2"])
        #expect(load.status == 1)
        #expect(load.stderr.contains("connection refused"))
    }

    @Test("--threadpool sizes libuv's pool: a load that resolves a name runs with that many pool threads; 0 is a usage error")
    func threadPool() throws {
        let server = try Demo(["echo-server", "--port", "0"])
        let port = try server.listeningPort()
        defer {
            server.signal(SIGTERM)
            _ = server.wait()
        }
        var threads: [Int] = []
        for size in [2, 9] {
            // "localhost" is looked up on the pool, which starts with UV_THREADPOOL_SIZE threads.
            let load = try Demo(["load", "--host", "localhost", "--port", "\(port)", "--duration", "1.5", "--connections", "1", "--threadpool", "\(size)"])
            usleep(700_000)
            let status = (try? String(contentsOfFile: "/proc/\(load.process.processIdentifier)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
            threads.append(line.flatMap { Int($0.split(separator: "\t").last ?? "") } ?? -1)
            #expect(load.wait().status == 0)
        }
        #expect(threads.count == 2 && threads[1] - threads[0] == 7, "threads with pools of 2 and 9: \(threads)")

        let zero = try Demo.run(["load", "--threadpool", "0"])
        #expect(zero.status == 2)
        #expect(zero.stderr.contains("--threadpool must be in 1...1024"), "\(zero.stderr)")
    }
}
