// The seeds' HMAC challenge-response: the server sends 32 random bytes, the client proves it knows the
// shared key by answering HMAC-SHA256(key, challenge), and the server checks in constant time.
import UVNet
import UVNetTLS

enum Authentication {
    static let challengeLength = 32
    static let answerLength = SHA256.byteCount

    /// 32 bytes from OpenSSL's secure random generator.
    static func newChallenge() throws -> [UInt8] {
        try SecureRandom.bytes(challengeLength)
    }

    /// The answer that proves knowledge of `secret`.
    static func answer(to challenge: [UInt8], secret: String) -> [UInt8] {
        HMACSHA256.authenticationCode(for: challenge, key: Array(secret.utf8))
    }

    /// Whether `answer` is right, compared in constant time.
    static func isValid(_ answer: [UInt8], for challenge: [UInt8], secret: String) -> Bool {
        HMACSHA256.isValid(answer, for: challenge, key: Array(secret.utf8))
    }

    /// Server side, callback API: sends a challenge and checks the answer. On success `accepted` gets
    /// the bytes that came after the answer (the start of the echo); on failure the connection is
    /// closed and one stderr line says so.
    static func challenge(
        _ connection: some ByteStream, secret: String, console: Console, accepted: @escaping ([UInt8]) -> Void,
        rejected: @escaping () -> Void
    ) {
        let challenge: [UInt8]
        do {
            challenge = try newChallenge()
        } catch {
            reject(connection, "\(error)", console)
            return rejected()
        }
        var received: [UInt8] = []
        connection.write(challenge)
        connection.startReading { chunk in
            guard case .success(let bytes) = chunk else {
                reject(connection, "no answer", console)
                return rejected()
            }
            received += bytes
            guard received.count >= answerLength else { return }
            connection.stopReading()
            guard isValid(Array(received.prefix(answerLength)), for: challenge, secret: secret) else {
                reject(connection, "wrong answer", console)
                return rejected()
            }
            accepted(Array(received.dropFirst(answerLength)))
        }
    }

    /// Server side, async API: as `challenge(_:secret:accepted:rejected:)`; returns nil when rejected.
    static func challenge(
        _ connection: some ByteStream, secret: String, input: inout InboundBytes.AsyncIterator, console: Console
    ) async throws -> [UInt8]?
    {
        let challenge = try newChallenge()
        try await connection.write(challenge)
        var received: [UInt8] = []
        while received.count < answerLength {
            guard let chunk = try await input.next() else {
                reject(connection, "no answer", console)
                return nil
            }
            received += chunk
        }
        guard isValid(Array(received.prefix(answerLength)), for: challenge, secret: secret) else {
            reject(connection, "wrong answer", console)
            return nil
        }
        return Array(received.dropFirst(answerLength))
    }

    private static func reject(_ connection: some ByteStream, _ why: String, _ console: Console) {
        console.error("authentication failed for \(connection.peerDescription): \(why); closing")
        connection.close()
    }
}
