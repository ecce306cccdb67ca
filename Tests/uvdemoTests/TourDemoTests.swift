// The tour as a user runs it: every demo a real process, checked against the others.
import Foundation
import Testing

@Suite("tour")
struct TourDemoTests {
    @Test("the tour passes every check, each demo a process of its own, within 10 s plus its load")
    func tour() throws {
        let started = Date()
        let tour = try Demo.run(["tour", "--load-duration", "0.5"], timeout: 60)
        let elapsed = Date().timeIntervalSince(started)
        #expect(tour.status == 0, "\(tour.stdout)\(tour.stderr)")
        let lines = tour.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("demo ") == true)
        #expect(lines.last == "all 18 checks passed")
        #expect(lines.dropFirst().dropLast().allSatisfy { !$0.contains("FAILED") })
        for demo in ["echo (unix)", "echo (2 processes)", "echo (tls)", "serve + fetch", "https", "shutdown"] {
            #expect(lines.contains { $0.hasPrefix(demo) }, "no '\(demo)' row")
        }
        #expect(tour.stderr == "")
        #expect(elapsed < 10.5, "the tour took \(elapsed) s")
    }

    @Test("servers that cannot start are reported on their rows; the tour exits 1 without hanging")
    func serversThatFailToStart() throws {
        // 192.0.2.1 (TEST-NET-1) is no address of this machine: every bind fails, nothing is sent.
        let tour = try Demo.run(["tour", "--host", "192.0.2.1", "--load-duration", "0"], timeout: 60)
        #expect(tour.status == 1, "\(tour.stdout)\(tour.stderr)")
        let echoRow = tour.stdout.split(separator: "\n").first { $0.hasPrefix("echo (callback)") } ?? ""
        #expect(echoRow.contains("FAILED: echo-server did not start"), "\(echoRow)")
        #expect(echoRow.contains("address not available") || echoRow.contains("EADDRNOTAVAIL"), "\(echoRow)")
        #expect(tour.stdout.contains("resolve"), "checks that need no server still run")
        #expect(tour.stderr.hasPrefix("uvdemo: "), "\(tour.stderr)")
    }
}
