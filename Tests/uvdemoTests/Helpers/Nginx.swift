// nginx as a real HTTP server for fetch to talk to: its own config, root and port in a temporary
// directory, on loopback only, stopped when the test is done.
import Foundation
import Testing

final class Nginx {
    let directory: URL
    let root: URL
    let port: Int
    private let process: Demo

    /// Whether it serves HTTPS.
    let isSecure: Bool

    /// Starts nginx serving `root` (created empty) with `locations` (extra `location` blocks), over TLS
    /// with `certificate` (chain and key files) when one is given.
    init(locations: String = "", certificate: (chain: String, key: String)? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("uvnet-nginx-\(UUID().uuidString)")
        root = directory.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        port = try freePort()
        isSecure = certificate != nil
        let tls = certificate.map { "ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate \($0.chain); ssl_certificate_key \($0.key);" } ?? ""
        let config = """
            daemon off;
            master_process off;
            user root;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(directory.path)/body;
                proxy_temp_path \(directory.path)/proxy;
                fastcgi_temp_path \(directory.path)/fastcgi;
                server {
                    listen 127.0.0.1:\(port)\(isSecure ? " ssl" : "");
                    \(tls)
                    root \(root.path);
                    \(locations)
                }
            }
            """
        try Data(config.utf8).write(to: directory.appendingPathComponent("nginx.conf"))
        process = try Demo(
            ["-p", directory.path, "-c", directory.appendingPathComponent("nginx.conf").path, "-e", directory.path + "/error.log"],
            executable: "/usr/sbin/nginx")
        try waitUntilListening(port: port)
    }

    var url: String { "\(isSecure ? "https" : "http")://127.0.0.1:\(port)" }

    /// Writes a file under the root.
    func write(_ bytes: Data, to path: String) throws {
        try bytes.write(to: root.appendingPathComponent(path))
    }

    deinit {
        process.signal(SIGTERM)
        _ = process.wait(timeout: 10)
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A port nothing listens on right now (the kernel's pick for a socket bound and closed).
func freePort() throws -> Int {
    let finished = try python("""
        import socket
        s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
        """)
    return try #require(Int(finished.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(finished.stderr)")
}

/// Waits (up to 10 s) until something accepts connections on 127.0.0.1:`port`.
func waitUntilListening(port: Int) throws {
    let finished = try python("""
        import socket, sys, time
        for _ in range(1000):
            try:
                socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close(); sys.exit(0)
            except OSError:
                time.sleep(0.01)
        sys.exit(1)
        """, ["\(port)"])
    try #require(finished.status == 0, "nothing listens on \(port)")
}

/// `count` bytes of a pattern that catches dropped, repeated or reordered bytes.
func patternData(_ count: Int, seed: Int = 0) -> Data {
    var state = UInt64(0x2545_F491_4F6C_DD1D) &+ UInt64(seed)
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        for index in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            buffer[index] = UInt8(truncatingIfNeeded: state >> 33)
        }
        initialized = count
    }
    return Data(bytes)
}
