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

    @Test("write(borrowing:) sends the bytes as they were and returns once the kernel has them all")
    func borrowedWrite() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let arrived = try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                let count = 8 << 20
                let memory = patternMemory(count: count)
                defer { memory.deallocate() }
                let bytes = borrowable(memory)
                async let written: Void = client.write(borrowing: bytes.pointer)
                var received: [UInt8] = []
                var chunks = server.inbound().makeAsyncIterator()
                while received.count < count, let chunk = try await chunks.next() { received += chunk }
                try await written
                await client.close()
                await server.close()
                await listener.close()
                return received == pattern(count: count, seed: 1)
            }
            #expect(arrived)
        }
    }

    @Test("canceling a borrowing write gives up on the peer: the stream is closed with a reset, the write fails once libuv lets go, and what arrived is what was sent")
    func canceledBorrowedWrite() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (ending, clientState, serverEnd, prefixIntact) = try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                let count = 32 << 20
                let memory = patternMemory(count: count)
                defer { memory.deallocate() }
                let bytes = borrowable(memory)
                let writer = Task(executorPreference: loop.taskExecutor) {
                    try await client.write(borrowing: bytes.pointer)
                }
                // The peer reads nothing yet: most of the 32 MiB waits, lent, in libuv's queue.
                while client.writeQueueSize == 0 { await Task.yield() }
                writer.cancel()
                var ending = "returned"
                do { try await writer.value } catch let error as UVError { ending = error.name } catch { ending = "\(error)" }
                var received: [UInt8] = []
                var serverEnd = "eof"
                do {
                    for try await chunk in server.inbound() { received += chunk }
                } catch let error as UVError {
                    serverEnd = error.name
                }
                let prefixIntact = received.count < count && received == Array(UnsafeRawBufferPointer(memory)[..<received.count])
                let clientState = client.state
                await server.close()
                await listener.close()
                return (ending, clientState, serverEnd, prefixIntact)
            }
            #expect(ending == "ECANCELED")
            #expect(clientState == .closed)
            // The peer sees the stream end: a reset, or (when the RST met a full receive window and was
            // refused) an end after what it had.
            #expect(serverEnd == "ECONNRESET" || serverEnd == "eof")
            #expect(prefixIntact)
        }
    }
}

/// `count` bytes of `pattern(count:seed: 1)` in memory the test owns and frees.
private func patternMemory(count: Int) -> UnsafeMutableRawBufferPointer {
    let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
    memory.copyBytes(from: pattern(count: count, seed: 1))
    return memory
}

/// Memory passed to a task by address: the test awaits the write that borrows it before freeing it.
private struct Borrowable: Sendable {
    let address: UInt
    let count: Int
    var pointer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: address), count: count) }
}

private func borrowable(_ memory: UnsafeMutableRawBufferPointer) -> Borrowable {
    Borrowable(address: UInt(bitPattern: memory.baseAddress), count: memory.count)
}
