// LoopGroup: loops on threads of their own, one port shared by all of them.
import Testing
import UVNet

/// A per-loop count, touched on that loop's thread while it runs and read after the threads are joined.
final class AcceptCount: @unchecked Sendable {
    var value = 0
}

@Suite("LoopGroup")
struct LoopGroupTests {
    @Test("two loops share one port and both accept connections")
    func sharedPort() throws {
        let group = try LoopGroup(loopCount: 2)
        let counts = group.loops.map { _ in AcceptCount() }
        let address = try group.listen(on: anyLocalPort) { listener in
            let count = counts[group.loops.firstIndex { $0 === listener.loop }!]
            listener.accept { result in
                guard case .success(let connection) = result else { return }
                count.value += 1
                connection.close()
            }
        }
        try withLoop { loop in
            var finished = 0
            for _ in 0..<60 {
                let client = try TCPConnection(on: loop)
                try client.connect(to: address) { _ in
                    client.startReading { _ in
                        client.close()
                        finished += 1
                    }
                }
            }
            loop.run()
            #expect(finished == 60)
        }
        group.shutdown()
        #expect(counts.map(\.value).reduce(0, +) == 60)
        #expect(counts.allSatisfy { $0.value > 0 }, "accepted per loop: \(counts.map(\.value))")
    }

    @Test("next() hands out the loops round robin, and each runs on its own thread")
    func roundRobin() throws {
        let group = try LoopGroup(loopCount: 3)
        defer { group.shutdown() }
        let picked = (0..<6).map { _ in group.next() }
        #expect(picked[0] === picked[3] && picked[1] === picked[4] && picked[2] === picked[5])
        #expect(picked[0] !== picked[1] && picked[1] !== picked[2])
        for loop in group.loops { #expect(!loop.isOnLoopThread) }
    }

    @Test("shutdown closes what is open on every loop and returns")
    func shutdownCloses() throws {
        let group = try LoopGroup(loopCount: 2)
        _ = try group.listen(on: anyLocalPort) { _ in }
        group.shutdown()
        group.shutdown()  // idempotent
    }
}
