// The scoped server: one task per connection, every connection closed on every way out.
import Testing
import UVNet
import UVNetTestSupport

/// Connects, sends `message`, half-closes and reads until the server ends the connection.
private func exchange(_ message: String, with address: SocketAddress, on loop: Loop) async throws -> String {
    try await TCPConnection.withConnection(to: address, on: loop) { connection in
        try await connection.write(message)
        try await connection.shutdown()
        var reply: [UInt8] = []
        for try await chunk in connection.inbound() { reply += chunk }
        return String(decoding: reply, as: UTF8.self)
    }
}

@Suite("Scoped server")
struct ScopedServerTests {
    @Test("a handler that returns without closing its connection still has it closed")
    func forgottenConnectionIsClosed() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let reply = try loop.run {
                async let served: Void = listener.serve { connection in
                    var input = connection.inbound().makeAsyncIterator()
                    if let first = try await input.next() { try await connection.write(first) }
                    // Returns without closing: the server closes it, and the client sees the end.
                }
                let reply = try await exchange("hi", with: listener.localAddress, on: loop)
                await listener.close()
                try await served
                return reply
            }
            #expect(reply == "hi")
        }
    }

    @Test("an error thrown by one connection's handler ends that connection only; onError hears it")
    func errorEndsOneConnection() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let errors = LoopBound<[String]>([], on: loop)
            let (first, second) = try loop.run {
                async let served: Void = listener.serve(onError: { error, _ in errors.value.append("\(error)") }) { connection in
                    var input = connection.inbound().makeAsyncIterator()
                    guard let request = try await input.next() else { return }
                    if request == Array("fail".utf8) { throw UVError.invalidArgument }
                    try await connection.write(request)
                }
                let address = try listener.localAddress
                let first = try await exchange("fail", with: address, on: loop)
                let second = try await exchange("echo", with: address, on: loop)
                await listener.close()
                try await served
                return (first, second)
            }
            #expect(first == "")
            #expect(second == "echo")
            #expect(errors.value.count == 1)
        }
    }

    @Test("closing the listener stops accepting; serve returns once open connections finish")
    func gracefulEnd() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let reply = try loop.run {
                async let served: Void = listener.serve { connection in
                    for try await chunk in connection.inbound() { try await connection.write(chunk) }
                    try await connection.shutdown()
                }
                let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                try await client.write("still ")
                var input = client.inbound().makeAsyncIterator()
                var reply = try await input.next() ?? []  // being served now
                await listener.close()  // the open connection goes on
                try await client.write("served")
                try await client.shutdown()
                while let chunk = try await input.next() { reply += chunk }
                await client.close()
                try await served
                return String(decoding: reply, as: UTF8.self)
            }
            #expect(reply == "still served")
        }
    }

    @Test("canceling the serving task closes every connection and the listener")
    func cancelClosesEverything() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (outcome, clientEnd, listenerState) = try loop.run {
                let server = Task(executorPreference: loop.taskExecutor) {
                    try await listener.serve { connection in
                        for try await chunk in connection.inbound() { try await connection.write(chunk) }
                    }
                }
                let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                try await client.write("x")
                var input = client.inbound().makeAsyncIterator()
                _ = try await input.next()  // the connection is being served
                server.cancel()
                let outcome = await server.result
                let clientEnd = try await input.next()  // the server closed its side
                await client.close()
                return (outcome, clientEnd, listener.state)
            }
            #expect(throws: CancellationError.self) { try outcome.get() }
            #expect(clientEnd == nil)
            #expect(listenerState == .closed)
        }
    }

    @Test("a connection task canceled from another thread: the read waiting and every later one throw CancellationError")
    func handlerCancellation() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let outcomes = LoopBound<[String]>([], on: loop)
            let waiting = LoopBound(false, on: loop)
            try loop.run {
                let server = Task(executorPreference: loop.taskExecutor) {
                    try await listener.serve { connection in
                        var input = connection.inbound(idleTimeout: .seconds(5)).makeAsyncIterator()
                        for _ in 0..<2 {
                            // On the loop's thread, the wait is registered before this task can be seen
                            // to wait: `waiting` is true only once it is.
                            waiting.value = true
                            do { _ = try await input.next() } catch { outcomes.value.append("\(type(of: error))") }
                        }
                    }
                }
                let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                while !waiting.value { try await loop.sleep(for: .milliseconds(1)) }
                // A plain thread, not Task.detached: the test blocks a thread of the global pool, and on a
                // 2-core machine another test may block the other.
                onAnotherThread { server.cancel() }
                _ = await server.result
                await client.close()
            }
            #expect(outcomes.value == ["CancellationError", "CancellationError"])
        }
    }

    @Test("a child task of a connection's task is canceled on its own: its read ends, the connection's task goes on")
    func childTaskCancellation() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let outcome = LoopBound<String?>(nil, on: loop)
            try loop.run {
                async let served: Void = listener.serve { connection in
                    // A child task inherits the connection task's task-local values: it must still
                    // have a cancellation of its own.
                    let child = Task(executorPreference: loop.taskExecutor) {
                        for try await _ in connection.inbound(idleTimeout: .seconds(5)) {}
                    }
                    try await loop.sleep(for: .milliseconds(20))
                    child.cancel()
                    do {
                        try await child.value
                        outcome.value = "ended"
                    } catch {
                        outcome.value = "\(type(of: error))"
                    }
                    try await connection.write("still here")
                }
                let client = try await TCPConnection.connect(to: listener.localAddress, on: loop)
                var reply: [UInt8] = []
                for try await chunk in client.inbound() { reply += chunk }
                #expect(String(decoding: reply, as: UTF8.self) == "still here")
                await client.close()
                await listener.close()
                try await served
            }
            #expect(outcome.value == "CancellationError")
        }
    }

    @Test("serve on a listener that has an accept handler is an error, not a wait for ever")
    func serveWithHandlerRefused() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort) { _ in }
            let error = try loop.run {
                let error = await #expect(throws: UVError.self) { try await listener.serve { _ in } }
                return error
            }
            #expect(error == .invalidArgument)
            #expect(listener.state == .closed)
        }
    }
}
