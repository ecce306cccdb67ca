// swift-nio-ssl's take on the TLS echo server, for Benchmarks/tls-compare --nio: the idiomatic NIO shape
// (NIOSSLServerHandler, then a handler that writes back what it reads and flushes at the end of each read
// burst), one event loop, like uvdemo's. Prints `listening on HOST:PORT` as every uvdemo server does; exits
// 0 on SIGTERM.
// Usage: NIOSSLEchoServer PORT CERT.pem KEY.pem   (binds 127.0.0.1; PORT 0 picks a free one; TLS 1.2 at least)
import Glibc
import NIOCore
import NIOPosix
import NIOSSL

final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 4, let port = Int(arguments[1]) else {
    let usage = "usage: NIOSSLEchoServer PORT CERT.pem KEY.pem\n"
    _ = usage.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(2)
}
// SIGTERM ends the server at once; unblocked first, since a parent may have started us with it blocked.
signal(SIGTERM) { _ in _exit(0) }
var terminate = sigset_t()
sigemptyset(&terminate)
sigaddset(&terminate, SIGTERM)
pthread_sigmask(SIG_UNBLOCK, &terminate, nil)

var configuration = TLSConfiguration.makeServerConfiguration(
    certificateChain: try NIOSSLCertificate.fromPEMFile(arguments[2]).map { .certificate($0) },
    privateKey: .privateKey(try NIOSSLPrivateKey(file: arguments[3], format: .pem))
)
configuration.minimumTLSVersion = .tlsv12
let sslContext = try NIOSSLContext(configuration: configuration)

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
            try channel.pipeline.syncOperations.addHandler(EchoHandler())
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
// Written straight to the descriptor: the script reads it from a pipe, where stdio would buffer.
let line = "listening on 127.0.0.1:\(channel.localAddress?.port ?? 0)\n"
_ = line.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
try channel.closeFuture.wait()
