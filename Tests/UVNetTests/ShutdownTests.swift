// Half-closing twice: a second shutdown while the first waits for queued bytes ends when the first
// does, so code that reacts to its end (closing the connection) cannot cut those bytes off.
import Testing
import UVNet
import UVNetTestSupport

@Suite("shutdown")
struct ShutdownTests {
    @Test("a second shutdown while 16 MiB are queued ends after the first, and the peer gets every byte, then EOF")
    func secondShutdownWaitsForTheFirst() throws {
        let payload = pattern(count: 16 << 20, seed: 5)
        try withLoop { loop in
            let ends = LoopBound<[String]>([], on: loop)
            let listener = try TCPListener(on: loop, address: anyLocalPort) { accepted in
                guard case .success(let connection) = accepted else { return }
                payload.withUnsafeBytes { connection.write($0) }
                #expect(connection.writeQueueSize > 0, "the reader has not read yet: bytes are queued")
                connection.shutdown { result in ends.value.append("first " + outcome(result)) }
                // What a pump that runs again after its last write does: ask again, and close when told.
                connection.shutdown { result in
                    ends.value.append("second " + outcome(result))
                    connection.close()
                }
            }
            let received = try loop.run {
                let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                defer { listener.close() }  // a failed read ends the test instead of leaving the loop running
                var received: [UInt8] = []
                // Bounded: a peer that neither sends nor ends fails the test instead of hanging it.
                for try await chunk in client.inbound(idleTimeout: .seconds(10)) { received += chunk }
                await client.close()
                return received
            }
            #expect(received.count == payload.count)
            #expect(received == payload)
            #expect(ends.value == ["first ok", "second ok"])
        }
    }

    @Test("a shutdown after one has ended answers at once with its result, and changes nothing")
    func shutdownAfterItEnded() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort) { accepted in
                guard case .success(let connection) = accepted else { return }
                connection.startReading { if case .failure = $0 { connection.close() } }
            }
            let answers = try loop.run {
                let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                defer { client.close(); listener.close() }  // a failure ends the test instead of leaving the loop running
                try await client.shutdown()
                var answers: [String] = []
                client.shutdown { answers.append(outcome($0)) }
                answers.append("returned")
                try await client.shutdown()
                #expect(try await readAll(client).isEmpty, "the server closed after our FIN")
                return answers
            }
            #expect(answers == ["ok", "returned"])
        }
    }
}

private func outcome(_ result: Result<Void, UVError>) -> String {
    switch result {
    case .success: "ok"
    case .failure(let error): "\(error)"
    }
}
