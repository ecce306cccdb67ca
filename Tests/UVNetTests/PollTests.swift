// Poll: readiness of descriptors UVNet does not own (a socketpair's end, a pipe), hang-up, and a wait
// ended by closing the poll.
import Glibc
import Testing
import UVNet
import UVNetTestSupport

@Suite("Poll")
struct PollTests {
    @Test("a socketpair's end: writable at once, readable once the other end writes, hang-up when it closes")
    func socketPairEvents() throws {
        let (mine, theirs) = socketPair()
        defer { close(mine) }
        try withLoop { loop in
            let poll = try Poll(descriptor: mine, on: loop)
            let (writable, readable, hangUp) = try loop.run {
                let writable = try await poll.ready(for: .writable)
                #expect(write(theirs, "x", 1) == 1)
                let readable = try await poll.ready(for: .readable)
                var byte: UInt8 = 0
                #expect(read(mine, &byte, 1) == 1)
                close(theirs)
                let hangUp = try await poll.ready(for: [.readable, .disconnect])
                await poll.close()
                return (writable, readable, hangUp)
            }
            #expect(writable.contains(.writable))
            #expect(readable.contains(.readable))
            #expect(hangUp.contains(.disconnect))
        }
    }

    @Test("a pipe: readable after a write, and after the writer closes (end of file)")
    func pipeEvents() throws {
        var ends: [CInt] = [-1, -1]
        #expect(pipe(&ends) == 0)
        let (reading, writing) = (ends[0], ends[1])
        defer { close(reading) }
        try withLoop { loop in
            let poll = try Poll(descriptor: reading, on: loop)
            var seen: [Poll.Events] = []
            var buffer = [UInt8](repeating: 0, count: 16)
            poll.start([.readable, .disconnect]) { result in
                guard case .success(let events) = result else { return poll.close() }
                seen.append(events)
                let count = read(reading, &buffer, buffer.count)
                if count == 0 { poll.close() }  // end of file: the writer is gone
            }
            let closer = try Timer(on: loop)
            #expect(write(writing, "data", 4) == 4)
            closer.start(after: .milliseconds(10)) {
                close(writing)
                closer.close()
            }
            loop.run()
            #expect(seen.count >= 2)
            #expect(seen.first?.contains(.readable) == true)
        }
    }

    @Test("closing a poll ends a task waiting on it with .canceled")
    func closedMidWait() throws {
        let (mine, theirs) = socketPair()
        defer { close(mine); close(theirs) }
        try withLoop { loop in
            let poll = try Poll(descriptor: mine, on: loop)
            let outcome = try loop.run {
                let waiting = Task(executorPreference: loop.taskExecutor) { try await poll.ready(for: .readable) }
                try await loop.sleep(for: .milliseconds(10))
                await poll.close()
                return await waiting.result
            }
            #expect(throws: UVError.canceled) { try outcome.get() }
        }
    }
}
