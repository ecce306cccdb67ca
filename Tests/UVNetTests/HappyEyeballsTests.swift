// Happy Eyeballs on loopback: a first address that drops SYNs (an IPv6 listener whose accept queue is
// full) costs one attempt delay, not the kernel's connect timeout; every loser is closed, and so is
// every attempt of a race that is canceled or times out. (The rules themselves: HappyEyeballsPlanTests.)
import Foundation
import Glibc
import Testing
import UVNet
import UVNetTestSupport

@Suite("Happy Eyeballs")
struct HappyEyeballsTests {
    /// A socket on [::1] that listens with a full accept queue and never accepts: SYNs to it are dropped.
    /// Returns its descriptor (and the one connection filling its queue) and port.
    private func blackhole() throws -> (descriptors: [CInt], port: Int) {
        let listening = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listening, $0, length) } }
        try #require(bound == 0 && listen(listening, 0) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listening, $0, &length) } }
        // One connection fills a queue of backlog 0; the kernel drops the SYNs that come after it.
        let filler = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) } }
        try #require(connected == 0)
        return ([listening, filler], Int(UInt16(bigEndian: address.sin6_port)))
    }

    @Test("a first address that drops SYNs costs one attempt delay; the second wins and the first is closed")
    func blackholedFirstAddress() throws {
        let (descriptors, port) = try blackhole()
        defer { descriptors.forEach { _ = close($0) } }
        try withLoop { loop in
            let accepted = LoopBound<[TCPConnection]>([], on: loop)
            let listener = try TCPListener(on: loop, address: SocketAddress(ip: "127.0.0.1", port: port)) { result in
                if case .success(let connection) = result { accepted.value.append(connection) }
            }
            let handlesBefore = loop.openHandleCount
            let clock = ContinuousClock()
            let started = clock.now
            var outcome: Result<TCPConnection, UVError>?
            var elapsed: Duration = .zero
            let addresses = [try SocketAddress(ip: "::1", port: port), try SocketAddress(ip: "127.0.0.1", port: port)]
            TCPConnection.connect(toAnyOf: addresses, on: loop, attemptDelay: .milliseconds(100)) { result in
                elapsed = clock.now - started
                outcome = result
                // Let the loser's close and the accept run, then look.
                _ = try? Timer.once(after: .milliseconds(50), on: loop) {
                    #expect(loop.openHandleCount == handlesBefore + 2, "the client and the accepted connection; no loser")
                    if case .success(let connection) = result { #expect((try? connection.remoteAddress)?.description == "127.0.0.1:\(port)") }
                    try? outcome?.get().close()
                    accepted.value.forEach { $0.close() }
                    listener.close()
                }
            }
            loop.run()
            #expect(throws: Never.self) { try outcome?.get() }
            #expect(elapsed >= .milliseconds(90) && elapsed < .milliseconds(900), "connected after \(elapsed)")
        }
    }

    @Test("when every address fails the error names each one and why")
    func allFail() throws {
        try withLoop { loop in
            // A port nothing listens on, on both families: each attempt is refused at once.
            let probe = try TCPListener(on: loop, address: SocketAddress(ip: "127.0.0.1", port: 0))
            let port = try probe.localAddress.port
            probe.close()
            var outcome: Result<TCPConnection, UVError>?
            let addresses = [try SocketAddress(ip: "::1", port: port), try SocketAddress(ip: "127.0.0.1", port: port)]
            TCPConnection.connect(toAnyOf: addresses, on: loop) { outcome = $0 }
            loop.run()
            #expect {
                try outcome?.get()
            } throws: { error in
                let text = "\(error)"
                return (error as? UVError) == .connectionRefused && text.contains("every address failed")
                    && text.contains("[::1]:\(port): connection refused") && text.contains("127.0.0.1:\(port): connection refused")
            }
        }
    }

    @Test("canceled or timed out mid-race: every attempt's socket is closed, no handle left")
    func canceledMidRace() async throws {
        let first = try blackhole()
        let second = try blackhole()
        defer { (first.descriptors + second.descriptors).forEach { _ = close($0) } }
        let addresses = [try SocketAddress(ip: "::1", port: first.port), try SocketAddress(ip: "::1", port: second.port)]
        try withLoop { loop in
            let handlesBefore = loop.openHandleCount
            var outcome: Result<TCPConnection, UVError>?
            var inFlight = -1
            let attempt = TCPConnection.connect(toAnyOf: addresses, on: loop, attemptDelay: .milliseconds(100)) { outcome = $0 }
            // Give up once both attempts are in flight (the second starts one delay after the first).
            let poll = try Timer(on: loop)
            var polls = 0
            poll.start(after: .milliseconds(5), repeating: .milliseconds(5)) {
                polls += 1
                inFlight = synSentCount(toPorts: [first.port, second.port])
                guard inFlight == 2 || polls == 1000 else { return }
                poll.close()
                attempt.cancel()
            }
            loop.run()
            #expect(inFlight == 2, "both attempts were racing when canceled")
            #expect(throws: UVError.canceled) { try outcome?.get() }
            #expect(loop.openHandleCount == handlesBefore)
            #expect(synSentCount(toPorts: [first.port, second.port]) == 0)
        }
        try withLoop { loop in
            let handlesBefore = loop.openHandleCount
            let timedOut = try loop.run {
                do {
                    _ = try await TCPConnection.connect(host: "::1", port: first.port, on: loop, timeout: .milliseconds(200))
                    return false
                } catch let error as UVError {
                    return error == .timedOut
                }
            }
            #expect(timedOut)
            #expect(loop.openHandleCount == handlesBefore)
            #expect(synSentCount(toPorts: [first.port]) == 0)
        }
    }
}

/// How many IPv6 sockets of this machine are still connecting (SYN_SENT) to one of `ports` on loopback.
private func synSentCount(toPorts ports: [Int]) -> Int {
    guard let table = try? String(contentsOfFile: "/proc/net/tcp6", encoding: .utf8) else { return -1 }
    let wanted = Set(ports.map { String($0, radix: 16, uppercase: true).leftPadded(to: 4) })
    return table.split(separator: "\n").dropFirst().filter { line in
        let fields = line.split(separator: " ")
        guard fields.count > 3, let port = fields[2].split(separator: ":").last else { return false }
        return fields[3] == "02" && wanted.contains(String(port))
    }.count
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
