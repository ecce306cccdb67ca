// The seeds' UDP echo server: every datagram goes back to its sender, lent from the receive batch
// without a copy.
import UVNet

enum DatagramEcho {
    /// Echoes datagrams on `address` until SIGINT or SIGTERM.
    static func serve(at address: SocketAddress, console: Console) throws {
        let loop = try Loop()
        let socket = try UDPSocket(on: loop)
        try socket.bind(to: address)
        socket.startReceiving { received in
            switch received {
            case .success(let datagram):
                socket.send(datagram.bytes, to: datagram.sender) { sent in
                    if case .failure(let error) = sent { console.error("\(error)") }
                }
            case .failure(let error):
                console.error("\(error)")  // one bad datagram; the server goes on
            }
        }
        try GracefulShutdown(on: loop, stopAccepting: { socket.close() })
        console.listening(on: try socket.localAddress)
        loop.run()
        try loop.close()
    }
}
