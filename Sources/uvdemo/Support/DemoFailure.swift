// Why a demo failed, as the one stderr line and the exit code the demos promise.
import Glibc
import UVNet
import UVNetTLS

/// A failure a demo reports and exits on.
struct DemoFailure: Error {
    /// The remote said no: connection refused, HTTP error, authentication failed.
    static let remoteRefused: Int32 = 1
    /// Bad usage or input.
    static let badUsage: Int32 = 2
    /// The network or the protocol failed.
    static let networkFailure: Int32 = 3

    let message: String
    let exitCode: Int32
    /// The demo has told the user already: main only exits with the code.
    var isReported = false

    /// The same failure, marked as told.
    var reported: DemoFailure {
        DemoFailure(message: message, exitCode: exitCode, isReported: true)
    }

    static func usage(_ message: String) -> DemoFailure {
        DemoFailure(message: message, exitCode: badUsage)
    }

    /// The exit code a network error deserves: 1 when the peer refused (the connection, or our client
    /// certificate), 2 for an unknown service name,
    /// a socket path too long or a TLS file that cannot be used (bad input), 3 otherwise (a refused
    /// certificate, a failed handshake or a truncated TLS stream among them).
    static func network(_ error: any Error) -> DemoFailure {
        let code: Int32 =
            switch error {
            case let error as UVError where error == .connectionRefused: remoteRefused
            case let error as UVError where error == .serviceNotFound || error == .nameTooLong: badUsage
            case let error as TLSError where error.reason == .configuration: badUsage
            // A server that wants a client certificate it did not get, or does not trust: authentication.
            case let error as TLSError where error.reason == .noCertificate || error.reason == .certificateRefused:
                remoteRefused
            default: networkFailure
            }
        return DemoFailure(message: "\(error)", exitCode: code)
    }

    /// The failure a system call left in errno, named as every UVNet error is:
    /// `create a file in /tmp/x/: no such file or directory (ENOENT)`.
    static func system(_ operation: String, _ target: String, exitCode: Int32 = networkFailure) -> DemoFailure {
        DemoFailure(message: "\(UVError(-errno, operation: operation, target: target))", exitCode: exitCode)
    }

    /// Parses `host` and `port` given on the command line, failing with a usage error.
    static func address(host: String, port: Int) throws(DemoFailure) -> SocketAddress {
        do {
            return try SocketAddress(ip: host, port: port)
        } catch {
            throw .usage("\(error)")
        }
    }
}
