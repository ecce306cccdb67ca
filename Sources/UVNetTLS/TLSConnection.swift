// TLS as a layer over a byte stream: the handshake, then plaintext both ways, with the callback face of
// a stream (borrowed bytes per read, try-write-first writes) and, through ByteStream, its async face.
@_spi(StreamLayers) import UVNet

/// A TLS connection over any byte stream, its `transport`: TCP, Unix-domain, a child's pipe, another
/// TLS connection (a tunnel through a proxy), or a stream of your own (an in-memory pair in tests).
///
/// Made by `TLSConnection.connect(host:port:on:context:)`, by a `TLSListener`, or over a stream of your own with
/// `init(over:context:serverName:)` then `handshake(_:)`. Reads lend plaintext from the loop's read buffer, valid only
/// inside the read callback, as a plain stream's do; a clean end is `UVError.eof` (the peer's close_notify), and a
/// peer whose transport ends without it is the error `TLSError` `.truncated`, never an end.
///
/// Like a handle, an open connection keeps itself alive until closed, and belongs to its loop's thread: every member
/// traps elsewhere. Close the TLS connection, not its transport: `close` sends close_notify first.
public final class TLSConnection: ByteStream, @unchecked Sendable {  // every member checks the loop's thread (`checkThread`)
    /// What reads and writes fail with: `TLSError`, or the transport's `UVError`.
    public typealias Failure = any Error
    /// What a read callback receives: plaintext valid only inside the callback, `UVError.eof`, or an error.
    public typealias ReadResult = Result<UnsafeRawBufferPointer, any Error>
    /// What a handshake, write or shutdown completion receives.
    public typealias Completion = (Result<Void, any Error>) -> Void

    /// The stream the ciphertext travels on.
    public let transport: any ByteStream
    private let session: TLSSession
    private let label: String?

    /// Where the connection is: made, handshaking, established (each direction's end is `life`'s), or
    /// closed. A fatal error (`failure`) may come in any of the first three; it stays to be reported.
    private enum Phase {
        case created, handshaking, established, closed
    }

    /// What the connection keeps until its handshake is over: who waits for it, the timer that ends
    /// it, and the plaintext written meanwhile, sent once it is done.
    private struct Opening {
        var completion: Completion?
        var timer: Timer?
        var writes: [(bytes: [UInt8], completion: Completion?)] = []
    }

    private var phase = Phase.created
    private var opening = Opening()
    @exclusivity(unchecked)  // called on every read, only on the loop's thread
    @_spi(StreamLayers) public var reader: ((ReadResult) -> Void)?
    private var isTransportReading = false
    /// The first fatal error: the session is unusable after it, and every later call reports it.
    private var failure: (any Error)?
    /// Reading ends at the peer's close_notify; writing at ours.
    // Unchecked: used on the loop's thread only, and its methods never call out (they return whom to
    // tell), so no access can overlap another; the dynamic check would cost some 90 instructions a message.
    @exclusivity(unchecked)
    @_spi(StreamLayers) public var life = StreamLife<any Error>()
    private var isDeliveryScheduled = false

    /// Wraps `transport` (connected, not yet reading) for TLS as `context`'s role says. A client checks the server's
    /// certificate against `serverName` (a host name, sent as SNI too, or an IP address). The handshake starts with
    /// `handshake(_:)`. A client that verifies (the default) needs `serverName`, or it throws `.configuration`.
    public convenience init(over transport: some ByteStream, context: TLSContext, serverName: String? = nil) throws(TLSError) {
        try self.init(over: transport, context: context, serverName: serverName, label: nil)
    }

    /// `label` names the peer in errors (`host:port`); without one, the transport's peer name does.
    init(over transport: any ByteStream, context: TLSContext, serverName: String?, label: String?) throws(TLSError) {
        transport.loop.checkOnLoopThread("TLSConnection.init")
        self.transport = transport
        self.label = label ?? serverName
        session = try TLSSession(context: context, serverName: context.configuration.role == .client ? serverName : nil)
        self.context = context
        // The transport holds this connection until it closes, as an open handle holds itself: the connection needs no
        // owner while open, and ends with its transport whoever closes that (its own close, or the loop's).
        transport.whenClosed { [self] in end() }
    }

    private let context: TLSContext

    /// The transport's loop, whose thread every member belongs to.
    public var loop: Loop { transport.loop }

    /// The peer as errors name it: `host:port` for a client, the transport's peer for a server.
    public var peerName: String? { label ?? transport.peerName }

    @inline(__always)
    private func checkThread(_ function: StaticString = #function) {
        loop.checkOnLoopThread("TLSConnection.\(function)")
    }

    /// A connection that failed (its handshake, say) is closed, but every later call reports why.
    @_spi(StreamLayers) public func failure(_ base: UVError, during operation: String) -> any Error {
        if let failure, base == .badFileDescriptor { return failure }
        return base.during(operation, target: peerName)
    }

    // MARK: Handshake

    /// Runs the handshake; `completion` gets `.success` once both sides agree and (for a client) the server's
    /// certificate passed, else the `TLSError`, the connection closed (`.handshakeTimedOut` after the context's
    /// `handshakeTimeout`). Writes made meanwhile wait for it. The corresponding C function is `SSL_do_handshake`.
    public func handshake(_ completion: @escaping Completion) {
        checkThread()
        guard phase == .created else {
            let refusal = phase == .closed ? UVError.badFileDescriptor : UVError.alreadyInProgress
            return completion(.failure(failure ?? refusal.during("TLS handshake with", target: peerName)))
        }
        phase = .handshaking
        opening.completion = completion
        if let limit = context.configuration.handshakeTimeout {
            opening.timer = try? Timer.once(after: limit, on: loop) { [weak self] in self?.handshakeTimedOut(limit) }
        }
        stepHandshake()
        readTransport()
    }

    /// Runs TLS over `transport`, already connected (TCP, Unix-domain, a protocol's upgrade such as
    /// STARTTLS, or another TLS connection: a tunnel): `completion` gets the connection once its handshake
    /// is done, or the error (the transport closed then). A client verifies the server's certificate for
    /// `serverName`, which it needs unless the context verifies nothing.
    public static func secure(
        _ transport: some ByteStream, serverName: String? = nil, context: TLSContext,
        _ completion: @escaping (Result<TLSConnection, any Error>) -> Void
    ) {
        secure(transport, serverName: serverName, label: nil, context: context, completion)
    }

    /// `label` names the peer in errors (`host:port`). Returns the connection under way, if one was made.
    @discardableResult
    static func secure(
        _ transport: any ByteStream, serverName: String?, label: String?, context: TLSContext,
        _ completion: @escaping (Result<TLSConnection, any Error>) -> Void
    ) -> TLSConnection? {
        do {
            let connection = try TLSConnection(over: transport, context: context, serverName: serverName, label: label)
            connection.handshake { completion($0.map { connection }) }
            return connection
        } catch {
            transport.close()
            completion(.failure(error))
            return nil
        }
    }

    /// The ALPN protocol both sides chose (`"http/1.1"`, `"h2"`), once the handshake is done.
    public var negotiatedProtocol: String? {
        checkThread()
        return phase == .established ? session.negotiatedProtocol : nil
    }

    /// The protocol version in use, e.g. `"TLSv1.3"`.
    public var protocolVersion: String {
        checkThread()
        return session.protocolVersion
    }

    /// The cipher suite in use, in OpenSSL's naming, once the handshake is done.
    public var cipherSuite: String? {
        checkThread()
        return phase == .established ? session.cipherSuite : nil
    }

    /// Whom the peer's certificate names, once the handshake is done: its DNS and IP alternative names (else its
    /// common name), printable ASCII only. With mutual TLS, a server reads here which client it serves (the chain was
    /// verified against `clientCertificates`' roots); nil when the peer presented no certificate.
    public var peerCertificateNames: [String]? {
        checkThread()
        return phase == .established ? session.presentedCertificateNames : nil
    }

    private func stepHandshake() {
        switch session.handshake() {
        case .done:
            // What the last step produced (a client's Finished, a server's tickets) goes out with
            // whatever the first plaintext brings: one write, not two.
            handshakeFinished()
        case .wantsMore:
            flushOutput(nil)
        case .failed(let error):
            flushOutput(nil)  // the alert that tells the peer why
            fail(error.naming(peerName))
        case .read, .closed:
            fail(TLSError(.handshakeFailed, operation: "TLS handshake with", target: peerName, detail: "the peer closed TLS during the handshake"))
        }
    }

    private func handshakeFinished() {
        phase = .established
        let opened = opening
        opening = Opening()
        opened.timer?.close()
        if !opened.writes.isEmpty { sendWaiting(opened.writes) }
        opened.completion?(.success(()))
    }

    /// The writes made during the handshake, encrypted together and sent as one. Their completions
    /// run in order once the kernel has it all, so a completion that writes again comes after them all.
    private func sendWaiting(_ writes: [(bytes: [UInt8], completion: Completion?)]) {
        for (bytes, _) in writes {
            if case .failed(let error) = bytes.withUnsafeBytes({ session.write($0) }) {
                fail(error.naming(peerName))
                for (_, completion) in writes { completion?(.failure(failure ?? error)) }
                return
            }
        }
        flushOutput { result in
            for (_, completion) in writes { completion?(result) }
        }
    }

    private func handshakeTimedOut(_ limit: Duration) {
        guard phase == .handshaking else { return }
        fail(TLSError(.handshakeTimedOut, operation: "TLS handshake with", target: peerName, detail: "handshake timed out (no answer within \(limit))"))
    }

    // MARK: Reading

    /// Before the handshake has begun, reading fails as on a closed stream.
    @_spi(StreamLayers) public func transportStartReading() throws(any Error) {
        if let failure { throw failure }
        if phase == .created { throw self.failure(.badFileDescriptor, during: "read from") }
        guard phase == .established else { return }  // the handshake reads already; plaintext follows it
        if session.hasInput { scheduleDelivery() }
        readTransport()
    }

    public func startReadingAnyError(_ handler: @escaping (ReadResult) -> Void) {
        startReading(handler)
    }

    /// What arrives meanwhile waits in the kernel (and in OpenSSL); a handshake under way goes on reading.
    @_spi(StreamLayers) public func transportStopReading() {
        if phase == .established { pauseTransport() }
    }

    private func readTransport() {
        guard !isTransportReading, phase == .handshaking || phase == .established else { return }
        isTransportReading = true
        transport.startReadingAnyError { [self] result in
            switch result {
            case .success(let ciphertext): received(ciphertext)
            case .failure(let error): transportEnded(error)
            }
        }
    }

    private func pauseTransport() {
        guard isTransportReading else { return }
        isTransportReading = false
        transport.stopReading()
    }

    @inline(__always)
    private func received(_ ciphertext: UnsafeRawBufferPointer) {
        guard session.receive(ciphertext) else {
            return fail(TLSError(.internalError, operation: "read from", target: peerName, detail: "out of memory"))
        }
        if phase == .handshaking {
            stepHandshake()
            guard phase == .established else { return }
            if life.reading != .active {
                if session.hasOutput { flushOutput(nil) }
                return pauseTransport()
            }
        }
        deliverPlaintext()  // flushes what is left to send at its end
    }

    /// Decrypts what has arrived into the loop's read buffer (free again: the ciphertext was copied
    /// into OpenSSL) and hands it to the reader, chunk by chunk, while it reads.
    @inline(__always)
    private func deliverPlaintext() {
        let buffer = UnsafeMutableRawBufferPointer(start: loop.readBuffer, count: Loop.readBufferSize)
        reading: while phase == .established, failure == nil, life.reading == .active, let handler = reader {
            switch session.read(into: buffer) {
            case .read(let count):
                handler(.success(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count)))
            case .wantsMore, .done:
                break reading
            case .closed:
                peerClosed()
            case .failed(let error):
                fail(error.naming(peerName))
            }
        }
        // A read may have produced output: a key update's answer, session tickets.
        if session.hasOutput { flushOutput(nil) }
    }

    private func scheduleDelivery() {
        guard !isDeliveryScheduled else { return }
        isDeliveryScheduled = true
        // Not from inside startReading: its caller does not expect its handler to run before it returns.
        try? loop.execute { [self] in  // a closed loop has closed the transport: nothing is left to deliver
            isDeliveryScheduled = false
            if phase == .established, life.reading == .active, session.hasInput { deliverPlaintext() }
        }
    }

    private func peerClosed() {
        pauseTransport()
        endReading(with: UVError.eof.during("read from", target: peerName))
    }

    private func transportEnded(_ error: any Error) {
        isTransportReading = false
        guard (error as? UVError) == .eof else { return fail(error) }
        switch phase {
        case .handshaking:
            fail(TLSError(.handshakeFailed, operation: "TLS handshake with", target: peerName, detail: "the peer closed the connection during the handshake"))
        case .established where life.readingEnd == nil:
            fail(TLSError(.truncated, operation: "read from", target: peerName, detail: "peer sent no close_notify (what came may be cut short)"))
        default:
            break
        }
    }

    /// The connection cannot go on: a failed handshake closes it; afterwards the reader is told, and
    /// every later call reports the same error until the owner closes it.
    private func fail(_ error: any Error) {
        guard failure == nil, phase != .closed else { return }
        failure = error
        pauseTransport()
        switch phase {
        case .created, .handshaking:
            let completion = opening.completion
            opening.completion = nil
            closeNow(sendingCloseNotify: false, nil)
            completion?(.failure(error))
        case .established:
            endReading(with: error)
        case .closed:
            break
        }
    }

    // MARK: Writing

    /// Encrypts `bytes`; the ciphertext goes to the kernel at once when it takes it. Before the handshake
    /// has finished, the bytes wait for it. The corresponding C function is `SSL_write`.
    public func write(_ bytes: UnsafeRawBufferPointer, completion: Completion? = nil) {
        checkThread()
        if isOpening { return opening.writes.append((Array(bytes), completion)) }
        do {
            try encrypt(bytes)
            flushOutput(completion)
        } catch {
            completion?(.failure(error))
        }
    }

    public func writeAnyError(_ bytes: UnsafeRawBufferPointer, completion: Completion?) {
        write(bytes, completion: completion)
    }

    /// Encrypts `bytes` and hands the ciphertext to the transport; before the handshake, the bytes wait for it.
    public func writeOrQueue(_ bytes: UnsafeRawBufferPointer) throws -> Awaited<Void>? {
        checkThread()
        if isOpening {
            let written = Awaited<Void>()
            opening.writes.append((Array(bytes), written.complete))
            return written
        }
        try encrypt(bytes)
        var failed: (any Error)?
        var queued: Awaited<Void>?
        session.takeOutput(through: loop.stagingBuffer) { ciphertext, _ in
            guard failed == nil else { return }
            // Pieces leave in order: the last one queued speaks for them all.
            do {
                if let rest = try transport.writeOrQueue(ciphertext) { queued = rest }
            } catch {
                failed = error
            }
        }
        if let failed { throw failed }
        return queued
    }

    /// Whether writes wait for the handshake: it has not finished, nor failed.
    private var isOpening: Bool { (phase == .created || phase == .handshaking) && failure == nil }

    /// Encrypts `bytes` into OpenSSL's output, or throws why the connection cannot send.
    @inline(__always)
    private func encrypt(_ bytes: UnsafeRawBufferPointer) throws {
        if let failure { throw failure }
        guard phase == .established else { throw UVError.badFileDescriptor.during("write to", target: peerName) }
        guard life.canWrite else { throw UVError.brokenPipe.during("write to", target: peerName) }
        if case .failed(let error) = session.write(bytes) {
            fail(error.naming(peerName))
            throw failure ?? error
        }
    }

    /// Sends the ciphertext OpenSSL produced; `completion` hears when the kernel has it.
    @inline(__always)
    private func flushOutput(_ completion: Completion?) {
        var sent = false
        session.takeOutput(through: loop.stagingBuffer) { ciphertext, isLast in
            sent = true
            // Pieces leave in order: the last one's completion speaks for them all.
            transport.writeAnyError(ciphertext, completion: isLast ? completion : nil)
        }
        if !sent { completion?(.success(())) }
    }

    /// Measured on the ciphertext queued on the transport (the plaintext and TLS's few bytes a record).
    public func onWritabilityChange(watermarks: WriteWatermarks, _ handler: ((Bool) -> Void)?) {
        checkThread()
        transport.onWritabilityChange(watermarks: watermarks, handler)
    }

    public var isWritable: Bool {
        checkThread()
        return transport.isWritable
    }

    @_spi(StreamLayers) public var queuedBytes: Int { transport.writeQueueSize }

    /// Ciphertext queued on the transport, and plaintext waiting for the handshake.
    public var writeQueueSize: Int {
        checkThread()
        return phase == .closed ? 0 : transport.writeQueueSize + opening.writes.reduce(0) { $0 + $1.bytes.count }
    }

    // MARK: Ending

    /// Sends close_notify, then half-closes the transport once every queued write has gone out (see `shutdown(_:)`);
    /// reading goes on until the peer's own close_notify. Over another TLS connection (a tunnel), the outer one sends
    /// its close_notify too: a peer that takes that for a full close cuts the inner reply short, so a tunnel's client
    /// closes after reading the reply rather than shutting down first. The corresponding C function is `SSL_shutdown`.
    @_spi(StreamLayers) public func transportShutdown() {
        sendCloseNotify()
        shutDown(transport) { [self] result in shutdownEnded(result) }
    }

    /// A shutdown waits for nothing: before the handshake is done, or after a failure, it fails.
    @_spi(StreamLayers) public var shutdownRefusal: (any Error)? {
        failure ?? (phase == .established ? nil : self.failure(.badFileDescriptor, during: "shut down"))
    }

    /// Half-closes `transport`, whatever kind of stream it is.
    private func shutDown(_ transport: some ByteStream, _ completion: @escaping Completion) {
        transport.shutdown { completion($0.mapError { $0 }) }
    }

    private func sendCloseNotify() {
        session.sendCloseNotify()
        flushOutput(nil)
    }

    /// Sends close_notify (when the connection is healthy and has not yet), then closes the transport.
    /// A handshake under way fails with `.canceled`.
    public func close(_ completion: (() -> Void)? = nil) {
        checkThread()
        closeNow(sendingCloseNotify: true, completion)
    }

    /// Sends no close_notify, so that the peer reads a truncation, not an end, and resets the transport.
    public func closeWithReset(_ completion: (() -> Void)? = nil) {
        checkThread()
        end()
        transport.closeWithReset(completion)
    }

    /// Where the connection is in its life: its transport's, and closed from the moment `close` was called.
    public var state: Handle.State {
        checkThread()
        return phase == .closed && transport.state == .open ? .closing : transport.state
    }

    private func closeNow(sendingCloseNotify: Bool, _ completion: (() -> Void)?) {
        if phase == .established && failure == nil && sendingCloseNotify && life.canWrite && transport.state == .open { sendCloseNotify() }
        end()
        transport.close(completion)
    }

    /// The connection's life is over: nothing more is read, written or called back, except to fail
    /// what still waits (`.canceled`). Idempotent.
    private func end() {
        guard phase != .closed else { return }
        phase = .closed
        streamClosing()
        let opened = opening
        opening = Opening()
        opened.timer?.close()
        let canceled = UVError.canceled.during("TLS handshake with", target: peerName)
        for (_, completion) in opened.writes { completion?(.failure(failure ?? canceled)) }
        opened.completion?(.failure(canceled))
    }

    public func whenClosed(_ observer: @escaping () -> Void) {
        checkThread()
        transport.whenClosed(observer)
    }
}

@_spi(StreamLayers) extension TLSConnection: StreamCore {}
