// TCP on the callback API against a callback echo server, all on one loop over loopback.
import Testing
import UVNet
import UVNetTestSupport

@Suite("TCP echo")
struct TCPEchoTests {
    @Test("16 KiB comes back byte for byte")
    func echoSixteenKiB() throws {
        let payload = pattern(count: 16 * 1024)
        let received = try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let client = try CollectingClient(on: loop, to: server.address, sending: payload) { _ in
                server.listener.close()
            }
            loop.run()
            #expect(client.endedCleanly)
            return client.received
        }
        #expect(received == payload)
    }

    @Test("8 MiB through one connection to a slow reader arrives whole and in order")
    func slowReader() throws {
        let payload = pattern(count: 8 * 1024 * 1024, seed: 3)
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let client = try TCPConnection(on: loop)
            let pause = try Timer(on: loop)
            var received: [UInt8] = []
            received.reserveCapacity(payload.count)
            var largestQueue = 0
            var ended: UVError?
            var reading: (TCPConnection.ReadResult) -> Void = { _ in }
            reading = { chunk in
                switch chunk {
                case .success(let bytes):
                    received.append(contentsOf: bytes)
                    // Read a chunk, then look away for a millisecond: the echo backs up behind us.
                    client.stopReading()
                    pause.start(after: .milliseconds(1)) { client.startReading(reading) }
                case .failure(let error):
                    ended = error
                    client.close()
                    pause.close()
                    server.listener.close()
                }
            }
            try client.connect(to: server.address) { result in
                #expect(throws: Never.self) { try result.get() }
                client.write(payload) { result in #expect(throws: Never.self) { try result.get() } }
                largestQueue = client.writeQueueSize
                client.shutdown()
                client.startReading(reading)
            }
            loop.run()
            reading = { _ in }  // it held itself: let it go
            #expect(largestQueue > 0, "the kernel took 8 MiB at once: the queue path was not exercised")
            #expect(ended == .eof)
            #expect(received.count == payload.count)
            #expect(received == payload)
        }
    }

    @Test("100 concurrent connections each get their own bytes back")
    func hundredConnections() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            var finished = 0
            var clients: [(CollectingClient, [UInt8])] = []
            for index in 0..<100 {
                let payload = pattern(count: 1000 + index * 37, seed: index)
                let client = try CollectingClient(on: loop, to: server.address, sending: payload) { _ in
                    finished += 1
                    if finished == 100 { server.listener.close() }
                }
                clients.append((client, payload))
            }
            loop.run()
            #expect(finished == 100)
            #expect(server.accepted.count == 100)
            for (client, payload) in clients {
                #expect(client.endedCleanly)
                #expect(client.received == payload)
            }
        }
    }

    @Test("after a half-close the client still receives every echoed byte, then EOF")
    func halfClose() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let client = try TCPConnection(on: loop)
            var events: [String] = []
            var received: [UInt8] = []
            let payload = pattern(count: 100_000)
            try client.connect(to: server.address) { _ in
                client.write(payload)
                client.shutdown { result in
                    #expect(throws: Never.self) { try result.get() }
                    events.append("shutdown")
                }
                client.startReading { chunk in
                    switch chunk {
                    case .success(let bytes): received.append(contentsOf: bytes)
                    case .failure(let error):
                        events.append(error == .eof ? "eof" : "\(error)")
                        client.close()
                        server.listener.close()
                    }
                }
            }
            loop.run()
            #expect(events == ["shutdown", "eof"])
            #expect(received == payload)
        }
    }

    @Test("names: local and remote addresses mirror each other; options apply")
    func addressesAndOptions() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let client = try TCPConnection(on: loop)
            try client.connect(to: server.address) { _ in
                #expect(throws: Never.self) {
                    try client.setNoDelay(true)
                    try client.setKeepAlive(after: .seconds(30))
                    // Changed from the defaults (a set that did nothing would leave them), and read back.
                    let send = try client.sendBufferSize()
                    #expect(try client.setSendBufferSize(send / 8) < send)
                    let receive = try client.receiveBufferSize()
                    #expect(try client.setReceiveBufferSize(receive / 8) < receive)
                    #expect(try client.receiveBufferSize() < receive)
                    try client.setKeepAlive(after: nil)
                    #expect(try client.remoteAddress == server.address)
                    let accepted = try #require(server.accepted.first)
                    #expect(try accepted.remoteAddress == client.localAddress)
                    #expect(throws: UVError.invalidArgument) { try accepted.setSendBufferSize(0) }
                }
                client.close()
                server.listener.close()
            }
            loop.run()
        }
    }
}
