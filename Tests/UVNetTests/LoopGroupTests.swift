// LoopGroup: loops on threads of their own, one port shared by all of them.
import Foundation
import Glibc
import Testing
import UVNet
import UVNetTestSupport

@Suite("LoopGroup")
struct LoopGroupTests {
    @Test("two loops share one port and both accept connections")
    func sharedPort() throws {
        let group = try LoopGroup(loopCount: 2)
        let counts = group.loops.map { _ in Shared(0) }
        let address = try group.listen(on: anyLocalPort) { listener in
            let count = counts[group.loops.firstIndex { $0 === listener.loop }!]
            listener.accept { result in
                guard case .success(let connection) = result else { return }
                count.update { $0 += 1 }
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

    @Test("listen is all or nothing: when one loop cannot bind, what the others bound is closed")
    func listenAllOrNothing() async {
        await #expect(processExitsWith: .success) { try listenWithRoomForOneSocket() }
    }

    @Test("coreCount is the CPUs this process may use (affinity respected)")
    func coreCountRespectsAffinity() async {
        await #expect(processExitsWith: .success) {
            // Glibc's module leaves sched_setaffinity out (it is a GNU extension): found by name instead.
            typealias SetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer) -> CInt
            let setAffinity = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity"), to: SetAffinity.self)
            var one = cpu_set_t()
            withUnsafeMutableBytes(of: &one) { $0[0] = 1 }  // CPU 0 only
            #expect(setAffinity(0, MemoryLayout<cpu_set_t>.size, &one) == 0)
            #expect(LoopGroup.coreCount == 1)
        }
    }
}

/// Two loops, room for one more descriptor: the first loop binds, the second cannot.
private func listenWithRoomForOneSocket() throws {
    let group = try LoopGroup(loopCount: 2)
    // A first listen opens the descriptor libuv keeps per loop for running out of them (its EMFILE
    // trick): counted before, so what is compared after is what this listen leaves.
    _ = try group.listen(on: anyLocalPort) { listener in listener.close() }
    let before = openDescriptorCount()
    // Fill every free descriptor, then free one: room for the first loop's socket, not the second's.
    var limit = rlimit()
    getrlimit(noFileLimit, &limit)
    var tight = limit
    tight.rlim_cur = rlim_t(highestOpenDescriptor() + 64)
    setrlimit(noFileLimit, &tight)
    var fillers: [CInt] = []
    while case let descriptor = open("/dev/null", O_RDONLY), descriptor >= 0 { fillers.append(descriptor) }
    close(fillers.removeLast())
    #expect(throws: UVError.tooManyOpenFiles) { _ = try group.listen(on: anyLocalPort) { _ in } }
    for descriptor in fillers { close(descriptor) }
    setrlimit(noFileLimit, &limit)
    #expect(openDescriptorCount() == before)
    group.shutdown()
}

private let noFileLimit = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

/// The descriptors open in this process.
private func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// The highest descriptor number open in this process.
private func highestOpenDescriptor() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap { Int($0) }.max()) ?? 0
}
