// The in-memory pair under the stream faces that every stream shares: async reads and writes with
// backpressure, half-close, reset, and the write that borrows the caller's bytes.
import Testing
import UVNet
import UVNetTestSupport

@Suite("The in-memory pair, and writes that borrow")
struct MemoryStreamTests {
    @Test("a paused reader fills the buffer: the writer's queue grows, writability drops, and everything arrives once it reads")
    func backpressure() throws {
        try withLoop { loop in
            let (peakQueued, changes, received) = try loop.run {
                let (client, server) = MemoryStream.pair(on: loop, capacity: 1000)
                var changes: [Bool] = []
                client.onWritabilityChange(watermarks: WriteWatermarks(low: 500, high: 2000)) { changes.append($0) }
                let sent = pattern(count: 10_000)
                for piece in stride(from: 0, to: sent.count, by: 1000) { client.write(Array(sent[piece..<piece + 1000]), completion: nil) }
                let peakQueued = client.writeQueueSize
                client.shutdown(nil)
                var received: [UInt8] = []
                for try await chunk in server.inbound() { received += chunk }
                await client.close()
                await server.close()
                return (peakQueued, changes, received == sent)
            }
            #expect(peakQueued == 9000)
            #expect(changes == [false, true])
            #expect(received)
        }
    }

    @Test("a shutdown is read as the end after the bytes before it; a reset as .connectionReset; writes to a closed end fail")
    func endings() throws {
        try withLoop { loop in
            let (halfClosed, answered, reset, writeAfterClose) = try loop.run {
                let (client, server) = MemoryStream.pair(on: loop)
                try await client.write("question")
                try await client.shutdown()
                var question: [UInt8] = []
                for try await chunk in server.inbound() { question += chunk }
                try await server.write("answer")  // the other direction is still open
                var answer: [UInt8] = []
                var chunks = client.inbound().makeAsyncIterator()
                answer = try await chunks.next() ?? []
                server.closeWithReset()
                var reset: UVError?
                do { _ = try await chunks.next() } catch let error as UVError { reset = error }
                var writeAfterClose: UVError?
                do { try await client.write("late") } catch let error as UVError { writeAfterClose = error }
                await client.close()
                return (String(decoding: question, as: UTF8.self), String(decoding: answer, as: UTF8.self), reset, writeAfterClose)
            }
            #expect(halfClosed == "question")
            #expect(answered == "answer")
            #expect(reset == .connectionReset)
            #expect(writeAfterClose == .brokenPipe)
        }
    }

    @Test("write(borrowing:) ends only once the kernel has every byte, canceled or not, and sends them as they were")
    func borrowedWrite() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (arrived, endedEarly) = try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                let count = 8 << 20
                let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
                defer { memory.deallocate() }
                memory.copyBytes(from: pattern(count: count, seed: 1))
                let bytes = UnsafeRawBufferPointer(memory)
                let finished = LoopBound(false, on: loop)
                let address = UInt(bitPattern: bytes.baseAddress)  // the memory outlives the task: it is awaited below
                let writer = Task(executorPreference: loop.taskExecutor) {
                    try await client.write(borrowing: UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: count))
                    finished.value = true
                }
                // The peer reads nothing yet, so most of the 8 MiB waits in place: canceling must not end the wait.
                try await Task.sleep(for: .milliseconds(50))
                writer.cancel()
                try await Task.sleep(for: .milliseconds(50))
                let endedEarly = finished.value
                var received: [UInt8] = []
                var chunks = server.inbound().makeAsyncIterator()
                while received.count < count, let chunk = try await chunks.next() { received += chunk }
                try await writer.value
                await client.close()
                await server.close()
                listener.close(nil)
                return (received == Array(bytes), endedEarly)
            }
            #expect(arrived)
            #expect(!endedEarly)
        }
    }
}
