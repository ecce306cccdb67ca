// UDP on loopback: echo, thousands of datagrams in order, recvmmsg batches, edge-sized datagrams.
import Testing
import UVNet
import UVNetTestSupport

@Suite("UDP")
struct UDPTests {
    /// A UDP echo server bound to `host` port 0, as a user would write one.
    private func echoServer(on loop: Loop, host: String = "127.0.0.1") throws -> UDPSocket {
        let server = try UDPSocket(on: loop)
        try server.bind(to: SocketAddress(ip: host, port: 0))
        server.startReceiving { received in
            if case .success(let datagram) = received { server.send(datagram.bytes, to: datagram.sender) }
        }
        return server
    }

    @Test("a datagram comes back from an echo server", arguments: ["127.0.0.1", "::1"])
    func echo(host: String) throws {
        try withLoop { loop in
            let server = try echoServer(on: loop, host: host)
            let client = try UDPSocket(on: loop)
            try client.bind(to: SocketAddress(ip: host, port: 0))
            let payload = pattern(count: 1200)
            var replies: [[UInt8]] = []
            var senders: [SocketAddress] = []
            client.startReceiving { received in
                guard case .success(let datagram) = received else { return }
                replies.append(Array(datagram.bytes))
                senders.append(datagram.sender)
                client.close()
                server.close()
            }
            let serverAddress = try server.localAddress
            client.send(payload, to: serverAddress)
            loop.run()
            #expect(replies == [payload])
            #expect(senders == [serverAddress])
        }
    }

    @Test("10,000 sequence-numbered datagrams arrive with none lost, repeated or corrupted")
    func tenThousand() throws {
        let total = 10_000
        try withLoop { loop in
            let receiver = try UDPSocket(on: loop)
            try receiver.bind(to: anyLocalPort)
            var seen = [Bool](repeating: false, count: total)
            var duplicates = 0
            var corrupted = 0
            var received = 0
            let sender = try UDPSocket(on: loop)
            let pace = try Timer(on: loop)
            receiver.startReceiving { result in
                guard case .success(let datagram) = result else { return corrupted += 1 }
                let bytes = Array(datagram.bytes)
                let sequence = Int(bytes[0]) << 8 | Int(bytes[1])
                guard bytes.count == 64, sequence < total, Array(bytes[2...]) == pattern(count: 62, seed: sequence)
                else { return corrupted += 1 }
                if seen[sequence] { duplicates += 1 }
                seen[sequence] = true
                received += 1
                if received == total {
                    receiver.close()
                    sender.close()
                    pace.close()
                }
            }
            let destination = try receiver.localAddress
            var next = 0
            // A moderate rate: 20 datagrams a millisecond. (libuv reads at most about 32 datagrams per
            // socket per loop iteration, so a sender on the same loop that outpaces that overflows the
            // socket buffer: UDP then drops, as it may.)
            pace.start(after: .milliseconds(1), repeating: .milliseconds(1)) {
                for _ in 0..<20 where next < total {
                    sender.send([UInt8(next >> 8), UInt8(next & 0xff)] + pattern(count: 62, seed: next), to: destination)
                    next += 1
                }
                if next == total { pace.stop() }
            }
            let deadline = try Timer(on: loop)
            deadline.unref()
            deadline.start(after: .seconds(20)) { loop.stop() }
            loop.run()
            deadline.close()
            #expect(received == total)
            #expect(seen.allSatisfy { $0 })
            #expect(duplicates == 0)
            #expect(corrupted == 0)
        }
    }

    @Test("a burst is read in recvmmsg batches of more than one datagram")
    func batches() throws {
        try withLoop { loop in
            let receiver = try UDPSocket(on: loop)
            try receiver.bind(to: anyLocalPort)
            let sender = try UDPSocket(on: loop)
            let burst = 200
            // All of them wait in the kernel before the loop first polls the receiver.
            for index in 0..<burst { sender.send(pattern(count: 100, seed: index), to: try receiver.localAddress) }
            var received = 0
            receiver.startReceiving { result in
                guard case .success = result else { return }
                received += 1
                if received == burst {
                    receiver.close()
                    sender.close()
                }
            }
            loop.run()
            #expect(received == burst)
            #expect(receiver.statistics.datagrams == burst)
            #expect(receiver.statistics.largestBatch > 1, "recvmmsg delivered one datagram per call")
            #expect(receiver.statistics.batches < burst)
        }
    }

    @Test("stopping inside the receive callback loses none of the datagrams libuv already read")
    func stopMidBatch() throws {
        try withLoop { loop in
            let receiver = try UDPSocket(on: loop)
            try receiver.bind(to: anyLocalPort)
            let sender = try UDPSocket(on: loop)
            let pause = try Timer(on: loop)
            let burst = 40
            for index in 0..<burst { sender.send(pattern(count: 50, seed: index), to: try receiver.localAddress) }
            var received = 0
            var handler: (UDPSocket.ReceiveResult) -> Void = { _ in }
            handler = { result in
                guard case .success = result else { return }
                received += 1
                if received == burst {
                    receiver.close()
                    sender.close()
                    pause.close()
                    return
                }
                // Stop after every datagram, even in the middle of a recvmmsg batch, and resume soon.
                receiver.stopReceiving()
                pause.start(after: .milliseconds(1)) { receiver.startReceiving(handler) }
            }
            receiver.startReceiving(handler)
            let deadline = try Timer(on: loop)
            deadline.unref()
            deadline.start(after: .seconds(5)) { loop.stop() }
            loop.run()
            deadline.close()
            handler = { _ in }  // it held itself: let it go
            #expect(received == burst)
            #expect(receiver.statistics.largestBatch > 1, "the burst did not arrive in batches")
        }
    }

    @Test("an empty datagram is delivered as empty, with its sender")
    func emptyDatagram() throws {
        try withLoop { loop in
            let receiver = try UDPSocket(on: loop)
            try receiver.bind(to: anyLocalPort)
            let sender = try UDPSocket(on: loop)
            try sender.bind(to: anyLocalPort)
            var got: [(Int, SocketAddress)] = []
            receiver.startReceiving { result in
                guard case .success(let datagram) = result else { return }
                got.append((datagram.bytes.count, datagram.sender))
                receiver.close()
                sender.close()
            }
            let senderAddress = try sender.localAddress
            sender.send([], to: try receiver.localAddress)
            loop.run()
            #expect(got.count == 1)
            #expect(got.first?.0 == 0)
            #expect(got.first?.1 == senderAddress)
        }
    }

    @Test("a datagram over the size limit is .messageTooLong, and the socket goes on")
    func oversized() throws {
        try withLoop { loop in
            let receiver = try UDPSocket(on: loop)
            try receiver.bind(to: anyLocalPort)
            let sender = try UDPSocket(on: loop)
            var outcome: Result<Void, UVError>?
            sender.send(pattern(count: UDPSocket.maximumPayload + 1), to: try receiver.localAddress) { outcome = $0 }
            #expect(throws: UVError.messageTooLong) { try outcome?.get() }
            var largest = 0
            receiver.startReceiving { result in
                guard case .success(let datagram) = result else { return }
                largest = datagram.bytes.count
                receiver.close()
                sender.close()
            }
            sender.send(pattern(count: UDPSocket.maximumPayload), to: try receiver.localAddress)
            loop.run()
            #expect(largest == UDPSocket.maximumPayload)
        }
    }

    @Test("a connected socket sends without an address and knows its peer; disconnect undoes it")
    func connected() throws {
        try withLoop { loop in
            let server = try echoServer(on: loop)
            let client = try UDPSocket(on: loop)
            try client.connect(to: try server.localAddress)
            #expect(try client.remoteAddress == server.localAddress)
            var reply: [UInt8] = []
            client.startReceiving { result in
                guard case .success(let datagram) = result else { return }
                reply = Array(datagram.bytes)
                client.close()
                server.close()
            }
            client.send([1, 2, 3])
            loop.run()
            #expect(reply == [1, 2, 3])
        }
        try withLoop { loop in
            let client = try UDPSocket(on: loop)
            try client.connect(to: SocketAddress(ip: "127.0.0.1", port: 9))
            try client.disconnect()
            #expect(throws: UVError.self) { _ = try client.remoteAddress }
            var outcome: Result<Void, UVError>?
            client.send([1]) { outcome = $0 }
            #expect(throws: UVError.self) { try outcome?.get() }
        }
    }

    @Test("broadcast and TTL options are set on the socket")
    func options() throws {
        try withLoop { loop in
            let socket = try UDPSocket(on: loop)
            try socket.bind(to: anyLocalPort)
            #expect(try socket.isBroadcastEnabled == false)
            try socket.setBroadcast(true)
            #expect(try socket.isBroadcastEnabled == true)
            try socket.setBroadcast(false)
            #expect(try socket.isBroadcastEnabled == false)
            try socket.setTTL(32)
            try socket.setMulticastTTL(4)
            try socket.setMulticastLoop(false)
            #expect(throws: UVError.invalidArgument) { try socket.setTTL(0) }
        }
    }

    @Test("closing the socket inside a batch delivers nothing more of that batch")
    func closeMidBatch() throws {
        try withLoop { loop in
            let receiver = try UDPSocket(on: loop)
            try receiver.bind(to: anyLocalPort)
            let sender = try UDPSocket(on: loop)
            // Queued in the kernel before receiving starts, so one recvmmsg reads them together.
            for index in 0..<10 { sender.send(pattern(count: 50, seed: index), to: try receiver.localAddress) }
            var deliveredAfterClose = 0
            var delivered = 0
            let start = try Timer(on: loop)
            start.start(after: .milliseconds(20)) {
                start.close()
                receiver.startReceiving { _ in
                    delivered += 1
                    if receiver.state != .open { deliveredAfterClose += 1 }
                    receiver.close()
                    sender.close()
                }
            }
            loop.run()
            #expect(delivered == 1)
            #expect(deliveredAfterClose == 0)
        }
    }

    @Test("an ICMP error on a connected socket does not end its datagrams; later ones still arrive")
    func transientReceiveError() throws {
        try withLoop { loop in
            let probe = try UDPSocket(on: loop)
            try probe.bind(to: anyLocalPort)
            let peer = try probe.localAddress
            probe.close()
            let client = try UDPSocket(on: loop)
            try client.bind(to: anyLocalPort)
            try client.connect(to: peer)
            let replies = try loop.run {
                async let replies: [[UInt8]] = {
                    var replies: [[UInt8]] = []
                    for try await datagram in client.datagrams() {
                        replies.append(datagram.bytes)
                        if replies.count == 1 { break }
                    }
                    return replies
                }()
                // Nobody is there yet: the kernel answers with port unreachable, read as a receive error.
                try await client.send([1])
                try await loop.sleep(for: .milliseconds(20))
                let server = try UDPSocket(on: loop)
                try server.bind(to: peer)
                server.startReceiving { received in
                    if case .success(let datagram) = received { server.send(datagram.bytes, to: datagram.sender) }
                }
                try await client.send([2])
                let result = try await replies
                await server.close()
                await client.close()
                return result
            }
            #expect(replies == [[2]])
        }
    }
}
