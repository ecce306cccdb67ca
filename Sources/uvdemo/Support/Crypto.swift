// SHA-256, HMAC and secure random bytes from OpenSSL, linked for TLS already: no second crypto library needed.
import COpenSSL

/// SHA-256, in one call or fed piece by piece.
///
/// ```swift
/// let digest = SHA256.hash(Array("abc".utf8))      // 32 bytes
/// var hasher = SHA256()
/// hasher.update(chunk)                              // as often as there are chunks
/// let same = hasher.finalize()
/// ```
/// The corresponding C functions are `EVP_DigestInit_ex`, `EVP_DigestUpdate` and `EVP_DigestFinal_ex`.
struct SHA256: ~Copyable {
    /// The length of a digest, in bytes.
    static let byteCount = 32
    private let context: OpaquePointer

    /// A hash of nothing yet; `update` it, then `finalize`.
    init() {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            fatalError("OpenSSL could not start a SHA-256 digest (out of memory)")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to what is hashed.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    /// Adds `bytes` to what is hashed.
    mutating func update(_ bytes: some Collection<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// The digest of everything added.
    consuming func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Self.byteCount)
        var length: CUnsignedInt = 0
        EVP_DigestFinal_ex(context, &digest, &length)
        return digest
    }

    /// The digest of `bytes`.
    static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

/// HMAC-SHA256: a message authentication code under a shared key.
/// The corresponding C functions are `HMAC` and `CRYPTO_memcmp`.
enum HMACSHA256 {
    /// The code that authenticates `message` under `key`.
    static func authenticationCode(for message: [UInt8], key: [UInt8]) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: CUnsignedInt = 0
        let made = key.withUnsafeBytes { key in
            message.withUnsafeBytes { message in
                HMAC(EVP_sha256(), key.baseAddress, Int32(key.count), message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                     message.count, &code, &length)
            }
        }
        if made == nil { fatalError("OpenSSL could not compute an HMAC (out of memory)") }
        return code
    }

    /// Whether `code` authenticates `message` under `key`, compared in constant time (no early exit
    /// that would tell an attacker how many leading bytes were right).
    static func isValid(_ code: [UInt8], for message: [UInt8], key: [UInt8]) -> Bool {
        let expected = authenticationCode(for: message, key: key)
        guard code.count == expected.count else { return false }
        return CRYPTO_memcmp(code, expected, expected.count) == 0
    }
}

/// Bytes from OpenSSL's cryptographically secure generator (seeded by the kernel's).
enum SecureRandom {
    /// `count` random bytes. Throws only when the generator cannot be seeded.
    /// The corresponding C function is `RAND_bytes`.
    static func bytes(_ count: Int) throws(DemoFailure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else {
            throw DemoFailure(message: "generate random bytes: OpenSSL's generator could not be seeded", exitCode: DemoFailure.networkFailure)
        }
        return bytes
    }
}
