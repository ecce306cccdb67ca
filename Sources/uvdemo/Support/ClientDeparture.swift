// How a client may leave that is its own business, not the server's: worth a log line with --verbose only.
import UVNet
import UVNetTLS

extension Error {
    /// The peer reset the connection, was gone by the time we wrote or shut down (a client that sends
    /// its close_notify and closes at once), or left a TLS connection without close_notify (as many
    /// clients do once they have what they came for).
    var isAbruptDeparture: Bool {
        if let error = self as? UVError { return [.connectionReset, .brokenPipe, .notConnected].contains(error) }
        if let error = self as? TLSError { return error.reason == .truncated }
        return false
    }

    /// The peer ended the stream cleanly (a FIN, or TLS's close_notify).
    var isEndOfStream: Bool { (self as? UVError) == .eof }
}
