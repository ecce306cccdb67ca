// An accept that fails is reported to the accept handler once, whichever step failed.
@testable import UVNet
import Testing
import UVNetTestSupport

@Suite("Accept failures")
struct AcceptFailureTests {
    @Test("a connection that cannot be made for an accept is one failure for the handler, and counted once")
    func failedMakeIsReportedOnce() throws {
        try withLoop { loop in
            let listener = try TCPListener(on: loop, address: anyLocalPort)
            var heard: [UVError] = []
            let taker = AcceptHandler<TCPConnection>(listener: listener, make: { () throws(UVError) -> TCPConnection in throw UVError.outOfMemory.during("accept") }) { result in
                if case .failure(let error) = result { heard.append(error) }
            }
            listener.acceptEach(taker, takingNow: false)
            taker.takeConnection()
            #expect(heard == [.outOfMemory])
            #expect(listener.acceptFailures == 1)
            listener.close()
        }
    }
}
