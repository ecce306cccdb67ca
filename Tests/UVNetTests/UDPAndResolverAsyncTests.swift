// UDP datagrams and name resolution with async/await.
import Testing
import UVNet
import UVNetTestSupport

@Suite("UDP and Resolver, async")
struct UDPAndResolverAsyncTests {
    @Test("an async UDP echo: datagrams in, datagrams back, the sequence ends when the socket closes")
    func udpEcho() throws {
        try withLoop { loop in
            let server = try UDPSocket(on: loop)
            try server.bind(to: anyLocalPort)
            let client = try UDPSocket(on: loop)
            try client.bind(to: anyLocalPort)
            let replies = try loop.run {
                async let served: Int = {
                    var count = 0
                    for try await datagram in server.datagrams() {
                        try await server.send(datagram.bytes, to: datagram.sender)
                        count += 1
                    }
                    return count
                }()
                var replies: [[UInt8]] = []
                var incoming = client.datagrams().makeAsyncIterator()
                for index in 0..<50 {
                    try await client.send(pattern(count: 100 + index, seed: index), to: server.localAddress)
                    replies.append(try #require(try await incoming.next()).bytes)
                }
                await server.close()
                #expect(try await served == 50)
                await client.close()
                return replies
            }
            #expect(replies == (0..<50).map { pattern(count: 100 + $0, seed: $0) })
        }
    }

    @Test("a small buffer limit pauses receiving and resumes it, losing nothing the kernel held")
    func udpBufferLimit() throws {
        try withLoop { loop in
            let receiver = try UDPSocket(on: loop)
            try receiver.bind(to: anyLocalPort)
            let sender = try UDPSocket(on: loop)
            let (received, peak) = try loop.run {
                let destination = try receiver.localAddress
                for index in 0..<100 { sender.send(pattern(count: 32, seed: index), to: destination, completion: nil) }
                // Lost datagrams would leave the consumer waiting: closing the socket ends the sequence.
                let watchdog = Task(executorPreference: loop.taskExecutor) {
                    try await loop.sleep(for: .seconds(10))
                    await receiver.close()
                }
                defer { watchdog.cancel() }
                let datagrams = receiver.datagrams(bufferLimit: 8)
                var incoming = datagrams.makeAsyncIterator()
                var received = 0
                while received < 100, try await incoming.next() != nil {
                    received += 1
                    try await loop.sleep(for: .milliseconds(1))  // a consumer slower than the burst
                }
                await receiver.close()
                await sender.close()
                return (received, datagrams.peakBufferedDatagrams)
            }
            // Loopback drops nothing here: the kernel held what the paused socket did not take.
            #expect(received == 100)
            // Reading pauses past the limit, at the end of the recvmmsg batch it is in (20 at most).
            #expect(peak >= 8, "the buffer never filled: the limit was not exercised")
            #expect(peak <= 8 + 20, "buffered \(peak) datagrams")
        }
    }

    @Test("resolve with await: names and numeric hosts")
    func resolve() throws {
        try withLoop { loop in
            let (named, numeric) = try loop.run {
                (try await Resolver.resolve(host: "localhost", service: "80", on: loop),
                 try await Resolver.resolve(host: "::1", service: "http", on: loop))
            }
            #expect(named.contains { $0.port == 80 && ($0.ipAddress == "127.0.0.1" || $0.ipAddress == "::1") })
            #expect(numeric == [try SocketAddress(ip: "::1", port: 80)])
        }
    }
}
