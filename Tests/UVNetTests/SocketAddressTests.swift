// SocketAddress: text in, text out, and clear errors for what is not an address.
import Testing
import UVNet
import UVNetTestSupport

@Suite("SocketAddress")
struct SocketAddressTests {
    @Test(
        "formats round-trip",
        arguments: [
            ("127.0.0.1", 80, "127.0.0.1:80"),
            ("0.0.0.0", 0, "0.0.0.0:0"),
            ("255.255.255.255", 65535, "255.255.255.255:65535"),
            ("::1", 9000, "[::1]:9000"),
            ("[::1]", 9000, "[::1]:9000"),
            ("2001:db8::42", 443, "[2001:db8::42]:443"),
            ("::ffff:10.0.0.1", 1, "[::ffff:10.0.0.1]:1"),
        ])
    func roundTrip(ip: String, port: Int, text: String) throws {
        let address = try SocketAddress(ip: ip, port: port)
        #expect(address.description == text)
        #expect(address.port == port)
        #expect(try SocketAddress(parsing: text) == address)
    }

    @Test("rejects what is not an address, naming it", arguments: ["", "localhost", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "1.2.3.4 ", "[::1"])
    func rejectsBadText(ip: String) {
        let error = #expect(throws: UVError.self) { try SocketAddress(ip: ip, port: 80) }
        #expect(error == .invalidArgument)
        #expect(error?.description.contains("'\(ip)'") == true)
    }

    @Test("rejects ports outside 0...65535", arguments: [-1, 65536, 1_000_000])
    func rejectsBadPort(port: Int) {
        let error = #expect(throws: UVError.self) { try SocketAddress(ip: "127.0.0.1", port: port) }
        #expect(error?.description.contains("port \(port)") == true)
    }

    @Test("rejects HOST:PORT text without a port or with a bare IPv6 host", arguments: ["127.0.0.1", "::1:80", "127.0.0.1:x", ":80"])
    func rejectsBadHostPort(text: String) {
        #expect(throws: UVError.self) { try SocketAddress(parsing: text) }
    }

    @Test("equal addresses hash alike; port and family tell addresses apart")
    func equality() throws {
        let a = try SocketAddress(ip: "127.0.0.1", port: 80)
        #expect(a == (try SocketAddress(ip: "127.0.0.1", port: 80)))
        #expect(a != (try SocketAddress(ip: "127.0.0.1", port: 81)))
        #expect(a != (try SocketAddress(ip: "::ffff:127.0.0.1", port: 80)))
        #expect(Set([a, try SocketAddress(ip: "127.0.0.1", port: 80)]).count == 1)
        #expect(try a.withPort(9) == (try SocketAddress(ip: "127.0.0.1", port: 9)))
    }
}

@Suite("UVError")
struct UVErrorTests {
    @Test("description names the operation, the target, the message and the libuv name")
    func description() {
        let error = UVError.connectionRefused.during("connect to", target: "127.0.0.1:9")
        #expect(error.description == "connect to 127.0.0.1:9: connection refused (ECONNREFUSED)")
        #expect(error == .connectionRefused)
        #expect(UVError.eof.name == "EOF")
        #expect(UVError(rawValue: -99999).name.contains("99999"))
    }
}
