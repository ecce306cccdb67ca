// The socket options services tune: kernel buffer sizes on UDP sockets, and what a closed one says.
import Testing
import UVNet
import UVNetTestSupport

@Suite("socket options")
struct SocketOptionTests {
    @Test("a UDP socket's kernel buffers are read and sized; a closed one's is an error naming the option")
    func udpBuffers() throws {
        try withLoop { loop in
            let socket = try UDPSocket(on: loop)
            try socket.bind(to: anyLocalPort)
            // Smaller than the defaults: a set that did nothing would leave them as they were.
            let receive = try socket.receiveBufferSize()
            let send = try socket.sendBufferSize()
            #expect(try socket.setReceiveBufferSize(receive / 8) < receive)
            #expect(try socket.receiveBufferSize() < receive)
            #expect(try socket.setSendBufferSize(send / 8) < send)
            #expect(throws: UVError.invalidArgument) { try socket.setReceiveBufferSize(-5) }
            socket.close()
            #expect {
                try socket.sendBufferSize()
            } throws: { error in
                (error as? UVError) == .badFileDescriptor && "\(error)".contains("SO_SNDBUF")
            }
        }
    }
}
