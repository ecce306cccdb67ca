// TCP when things go wrong: refused, port taken, closed early, written after close, reset by the peer.
import Testing
import UVNet
import UVNetTestSupport

@Suite("TCP failures")
struct TCPFailureTests {
    /// A port that was free a moment ago: bound, read back, closed.
    private func closedPort(on loop: Loop) throws -> SocketAddress {
        let listener = try TCPListener(on: loop, address: anyLocalPort) { _ in }
        let address = try listener.localAddress
        listener.close()
        loop.run()
        return address
    }

    @Test("connect refused is .connectionRefused and names the address")
    func connectRefused() throws {
        try withLoop { loop in
            let address = try closedPort(on: loop)
            let client = try TCPConnection(on: loop)
            var outcome: Result<Void, UVError>?
            try client.connect(to: address) { result in
                outcome = result
                client.close()
            }
            loop.run()
            let error = try #require(outcome.flatMap { if case .failure(let e) = $0 { e } else { nil } })
            #expect(error == .connectionRefused)
            #expect(error.description.contains(address.description))
            #expect(error.description.contains("ECONNREFUSED"))
        }
    }

    @Test("binding a port in use is .addressInUse naming the address")
    func addressInUse() throws {
        try withLoop { loop in
            let first = try TCPListener(on: loop, address: anyLocalPort) { _ in }
            let taken = try first.localAddress
            let error = #expect(throws: UVError.self) {
                _ = try TCPListener(on: loop, address: taken) { _ in }
            }
            #expect(error == .addressInUse)
            #expect(error?.description.contains(taken.description) == true)
            first.close()
        }
    }

    @Test("closing while connecting completes the connect once, with .canceled")
    func closeWhileConnecting() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let client = try TCPConnection(on: loop)
            var outcomes: [Result<Void, UVError>] = []
            var closed = 0
            try client.connect(to: server.address) { outcomes.append($0) }
            client.close { closed += 1 }
            server.listener.close()
            loop.run()
            #expect(outcomes.count == 1)
            #expect(throws: UVError.canceled) { try outcomes.first?.get() }
            #expect(closed == 1)
        }
    }

    @Test("write after close is an error, not a crash")
    func writeAfterClose() throws {
        try withLoop { loop in
            let client = try TCPConnection(on: loop)
            client.close()
            loop.run()
            var outcome: Result<Void, UVError>?
            client.write([1, 2, 3]) { outcome = $0 }
            #expect(throws: UVError.badFileDescriptor) { try outcome?.get() }
            #expect(throws: UVError.self) { try client.connect(to: anyLocalPort) { _ in } }
        }
    }

    @Test("writing to a peer that reset is an error and the process lives on")
    func writeToResetPeer() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort) { result in
                if case .success(let connection) = result { connection.closeWithReset() }
            }
            let client = try TCPConnection(on: loop)
            let retry = try Timer(on: loop)
            var writeError: UVError?
            let chunk = pattern(count: 4096)
            func writeUntilFailure() {
                client.write(chunk) { result in
                    guard case .failure(let error) = result else {
                        return retry.start(after: .milliseconds(1)) { writeUntilFailure() }
                    }
                    writeError = error
                    client.close()
                    retry.close()
                    listener.close()
                }
            }
            try client.connect(to: try listener.localAddress) { _ in writeUntilFailure() }
            loop.run()
            let error = try #require(writeError)
            #expect(error == .connectionReset || error == .brokenPipe)
        }
    }

    @Test("a reset reads as .connectionReset, distinct from EOF")
    func resetIsNotEOF() throws {
        try withLoop { loop in
            // The server resets once it has heard from the client, so the connect has surely completed.
            let listener = try TCPListener(on: loop, address: anyLocalPort) { result in
                guard case .success(let connection) = result else { return }
                connection.startReading { _ in connection.closeWithReset() }
            }
            let client = try TCPConnection(on: loop)
            var readError: UVError?
            try client.connect(to: try listener.localAddress) { result in
                #expect(throws: Never.self) { try result.get() }
                client.write("hello")
                client.startReading { chunk in
                    if case .failure(let error) = chunk {
                        readError = error
                        client.close()
                        listener.close()
                    }
                }
            }
            loop.run()
            #expect(readError == .connectionReset)
        }
    }
}
