// The socket options services tune: kernel buffer sizes on UDP sockets, and what a closed one says.
import Testing
import UVNet

@Suite("socket options")
struct SocketOptionTests {
    @Test("a UDP socket's kernel buffers are read and sized; a closed one's is an error naming the option")
    func udpBuffers() throws {
        try withLoop { loop in
            let socket = try UDPSocket(on: loop)
            try socket.bind(to: anyLocalPort)
            #expect(try socket.receiveBufferSize() > 0)
            #expect(try socket.setReceiveBufferSize(128 * 1024) >= 128 * 1024)
            #expect(try socket.setSendBufferSize(32 * 1024) >= 32 * 1024)
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
