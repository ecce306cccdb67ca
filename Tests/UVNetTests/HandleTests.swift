// The handle lifecycle: close is idempotent, completions run once, nothing runs after close.
import Testing
import UVNet
import UVNetTestSupport

@Suite("Handle lifecycle")
struct HandleTests {
    @Test("closing twice runs each completion exactly once and ends closed")
    func closeTwice() throws {
        try withLoop { loop in
            let timer = try Timer(on: loop)
            var completions: [String] = []
            timer.close { completions.append("first") }
            #expect(timer.state == .closing)
            timer.close { completions.append("second") }
            loop.run()
            #expect(completions == ["first", "second"])
            #expect(timer.state == .closed)
            timer.close { completions.append("after") }
            #expect(completions == ["first", "second", "after"])
        }
    }

    @Test("closing inside a read callback stops further callbacks")
    func closeInsideReadCallback() throws {
        try withLoop { loop in
            let server = try EchoServerFixture(on: loop)
            let client = try TCPConnection(on: loop)
            var callbacks = 0
            var closed = false
            try client.connect(to: server.address) { _ in
                client.write(pattern(count: 300_000))
                client.startReading { _ in
                    #expect(!closed, "a read callback ran after the close completion")
                    callbacks += 1
                    client.close {
                        closed = true
                        server.listener.close()
                    }
                }
            }
            loop.run()
            #expect(callbacks == 1)
            #expect(closed)
        }
    }

    @Test("a handle keeps itself alive while open, without the caller holding it")
    func selfRetained() throws {
        try withLoop { loop in
            var fired = false
            do {
                let timer = try Timer(on: loop)
                timer.start(after: .milliseconds(1)) {
                    fired = true
                    timer.close()
                }
            }
            loop.run()
            #expect(fired)
        }
    }

    @Test("unref lets the loop end while a handle is active; ref brings it back")
    func refAndUnref() throws {
        try withLoop { loop in
            let idle = try Timer(on: loop)
            idle.start(after: .seconds(60)) {}
            idle.unref()
            #expect(!idle.hasRef)
            #expect(idle.isActive)
            loop.run()  // returns at once: the only handle is unreferenced
            idle.ref()
            #expect(idle.hasRef)
            #expect(loop.openHandleCount == 1)
            idle.close()
            loop.run()
            #expect(loop.openHandleCount == 0)
        }
    }

    @Test("closing the loop closes what the test left open")
    func loopCloseClosesHandles() throws {
        let loop = try Loop()
        var closed = false
        let timer = try Timer(on: loop)
        timer.start(after: .seconds(60)) {}
        _ = try TCPListener(on: loop, address: anyLocalPort) { _ in }
        #expect(loop.openHandleCount == 2)
        try loop.close()
        timer.close { closed = true }
        #expect(closed)
        #expect(timer.state == .closed)
    }
}
