// UVNet's AsyncSequences: one consumer at a time, and every way of ending reads the same.
import Testing
import UVNet
import UVNetTestSupport

@Suite("Async sequences")
struct SequenceTests {
    @Test("a second task iterating one listener's connections is told so; the first gets its connection")
    func twoAcceptors() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let address = try listener.localAddress
            let (first, second) = try loop.run {
                @Sendable func acceptOne() async -> Result<TCPConnection?, any Error> {
                    var connections = listener.connections.makeAsyncIterator()
                    do { return .success(try await connections.next()) } catch { return .failure(error) }
                }
                let first = Task(executorPreference: loop.taskExecutor) { await acceptOne() }
                try await loop.sleep(for: .milliseconds(10))
                let second = Task(executorPreference: loop.taskExecutor) { await acceptOne() }
                try await loop.sleep(for: .milliseconds(10))
                let clients = [
                    try await TCPConnection.connect(to: address, on: loop),
                    try await TCPConnection.connect(to: address, on: loop),
                ]
                // A lost waiter would hang: after two seconds both are canceled instead.
                let watchdog = Task(executorPreference: loop.taskExecutor) {
                    try await loop.sleep(for: .seconds(2))
                    first.cancel()
                    second.cancel()
                }
                let outcomes = (await first.value, await second.value)
                watchdog.cancel()
                for case .success(let connection?) in [outcomes.0, outcomes.1] { await connection.close() }
                for client in clients { await client.close() }
                await listener.close()
                return outcomes
            }
            #expect(throws: Never.self) { try #require(try first.get()) }
            #expect(throws: UVError.busy) { try second.get() }
        }
    }

    @Test("a second iterator of one connection's bytes is an error; the first reads on")
    func twoReaders() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let (echoed, secondError) = try loop.run {
                let connection = try await TCPConnection.connect(to: server.address, on: loop)
                var first = connection.inbound().makeAsyncIterator()
                try await connection.write("one")
                let echoed = try await first.next()
                // A lost waiter would hang: after two seconds the connection is closed instead.
                let watchdog = Task(executorPreference: loop.taskExecutor) {
                    try await loop.sleep(for: .seconds(2))
                    await connection.close()
                }
                defer { watchdog.cancel() }
                var second = connection.inbound().makeAsyncIterator()
                let secondError = await #expect(throws: UVError.self) { _ = try await second.next() }
                await connection.close()
                await server.listener.close()
                return (echoed, secondError)
            }
            #expect(echoed == Array("one".utf8))
            #expect(secondError == .busy)
        }
    }

    @Test("a consumer that goes away stops the reading; what was read ahead waits for the next one")
    func consumerLeaves() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let (activeAfterLeaving, rest) = try loop.run {
                let connection = try await TCPConnection.connect(to: server.address, on: loop)
                try await connection.write("a")
                do {
                    var first = connection.inbound().makeAsyncIterator()
                    #expect(try await first.next() == Array("a".utf8))
                }
                try await loop.sleep(for: .milliseconds(5))  // the dropped iterator's goodbye reaches the loop
                let activeAfterLeaving = connection.isActive
                try await connection.write("b")
                try await connection.shutdown()
                var rest: [UInt8] = []
                for try await chunk in connection.inbound() { rest += chunk }
                await connection.close()
                await server.listener.close()
                return (activeAfterLeaving, rest)
            }
            #expect(!activeAfterLeaving, "the connection went on reading for nobody")
            #expect(rest == Array("b".utf8))
        }
    }

    @Test("closing ends a waiting TCP reader and a waiting UDP receiver the same way: the sequence ends")
    func closeEndsAlike() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let socket = try UDPSocket(on: loop)
            try socket.bind(to: anyLocalPort)
            let (tcp, udp) = try loop.run {
                let connection = try await TCPConnection.connect(to: server.address, on: loop)
                async let tcp: Result<[UInt8]?, any Error> = {
                    var bytes = connection.inbound().makeAsyncIterator()
                    do { return .success(try await bytes.next()) } catch { return .failure(error) }
                }()
                async let udp: Result<UDPSocket.ReceivedDatagram?, any Error> = {
                    var datagrams = socket.datagrams().makeAsyncIterator()
                    do { return .success(try await datagrams.next()) } catch { return .failure(error) }
                }()
                try await loop.sleep(for: .milliseconds(10))
                await connection.close()
                await socket.close()
                let outcomes = (await tcp, await udp)
                await server.listener.close()
                return outcomes
            }
            #expect(try tcp.get() == nil)
            #expect(try udp.get() == nil)
        }
    }

    @Test("frames found before a frame over the limit are delivered before its error")
    func framesBeforeError() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (lines, error) = try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                try await client.write(Array("a\nb\n".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: 2000))
                let read = await readLines(server, DelimiterFramer(maximumFrameLength: 1000))
                for handle in [client, server] as [Handle] + [listener] { await handle.close() }
                return read
            }
            #expect(lines == ["a", "b"])
            #expect(error == .messageTooLong)
        }
    }

    @Test("a stream that ends inside a frame is an error of its own, not .eof")
    func frameCutShort() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            let (lines, error) = try loop.run {
                let (client, server) = try await connectedPair(through: listener, on: loop)
                try await client.write("a\nbc")
                try await client.shutdown()
                let read = await readLines(server, DelimiterFramer())
                for handle in [client, server] as [Handle] + [listener] { await handle.close() }
                return read
            }
            #expect(lines == ["a"])
            #expect(error == .protocolError)
            #expect(error?.description.contains("inside a frame") == true, "\(String(describing: error))")
        }
    }
}
