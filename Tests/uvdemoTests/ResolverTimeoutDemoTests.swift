// A DNS server that never answers, on loopback in a network and mount namespace of the test's own
// (its /etc/resolv.conf points there): resolve --timeout gives up on time instead of waiting for the
// system resolver's 10 s and more.
import Foundation
import Testing

@Suite("resolve --timeout")
struct ResolverTimeoutDemoTests {
    /// Reads every DNS query on 127.0.0.1:53 and answers none, for 5 s; says "ready" on stdout once
    /// bound. It first closes what it inherited beyond stdin, stdout and stderr (the test's pipes
    /// among them), so that only uvdemo keeps the test waiting.
    static let silentDNSServer = """
        import os, socket
        os.closerange(3, 1024)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53)); s.settimeout(5)
        print("ready", flush=True)
        try:
            while True: s.recvfrom(2048)
        except OSError:
            pass
        """

    @Test("a lookup nobody answers ends at --timeout: exit 3 naming the host, at once")
    func silentServer() throws {
        let files = try ScratchFiles(["resolv.conf": "nameserver 127.0.0.1\n", "silent-dns.py": Self.silentDNSServer])

        // The files must outlive the shell that reads them.
        let resolved = try withExtendedLifetime(files) {
            try Demo.shell("""
            unshare --mount --net sh -c 'ip link set lo up || exit 9
            python3 \(files.path("silent-dns.py")) </dev/null >\(files.path("ready")) 2>&1 &
            for _ in $(seq 100); do grep -qs ready \(files.path("ready")) && break; sleep 0.1; done
            mount --bind \(files.path("resolv.conf")) /etc/resolv.conf || exit 9
            began=$(date +%s%N)
            \(uvdemoPath) resolve nowhere.example.com --timeout 0.5; status=$?
            echo $(( ($(date +%s%N) - began) / 1000000 ))
            exit $status'
            """)
        }
        // The lookup alone, not the namespace and the DNS server starting (slow on a busy machine).
        let elapsed = Double(resolved.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0 / 1000 } ?? .infinity
        #expect(resolved.status == 3, "\(resolved.stderr)")
        #expect(resolved.stderr == "uvdemo: resolve nowhere.example.com: no answer within 0.5 seconds (ETIMEDOUT)\n")
        #expect(elapsed < 3, "gave up after \(elapsed) s")
    }
}
