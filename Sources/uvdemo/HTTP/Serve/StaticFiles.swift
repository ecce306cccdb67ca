// URL paths mapped to files under one root directory, and never outside it: `..` segments and their
// percent-encoded forms are refused, and symbolic links that lead out of the root are not followed.
import Glibc

struct StaticFiles: Sendable {
    enum Lookup: Equatable {
        /// A regular file, by its real path.
        case file(String)
        /// A directory named without its trailing slash: redirect to this path.
        case directory(redirectTo: String)
        case notFound
        /// Outside the root (through a link), or not readable.
        case forbidden
        /// Malformed percent-encoding, a NUL byte, or a `.`/`..` segment.
        case badPath
    }

    static let indexFile = "index.html"

    /// The root's real path, without a trailing slash (but "/" itself).
    let root: String

    init(root: String) throws(DemoFailure) {
        guard let real = Self.realPath(root) else { throw .system("--root", root, exitCode: DemoFailure.badUsage) }
        var status = stat()
        guard stat(real, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw .usage("--root '\(root)' is not a directory")
        }
        self.root = real
    }

    /// The file a request for `path` (the target's path, still percent-encoded) is answered with.
    func lookup(_ path: Substring) -> Lookup {
        guard let decoded = Self.percentDecoded(path), !decoded.contains(0), decoded.first == UInt8(ascii: "/") else {
            return .badPath
        }
        let segments = decoded.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !segments.contains(where: { $0.elementsEqual([0x2E]) || $0.elementsEqual([0x2E, 0x2E]) }) else {
            return .badPath
        }
        let relative = String(decoding: decoded, as: UTF8.self)
        switch confined(root + relative) {
        case .success(let real, isDirectory: false): return .file(real)
        case .success(let real, isDirectory: true):
            guard relative.hasSuffix("/") else { return .directory(redirectTo: String(path) + "/") }
            if case .success(let index, isDirectory: false) = confined(real + "/" + Self.indexFile) { return .file(index) }
            return .notFound
        case .failure(let lookup): return lookup
        }
    }

    private enum Confined {
        case success(String, isDirectory: Bool)
        case failure(Lookup)
    }

    /// `path` resolved through its links, if it exists, is a file or directory, and is inside the root.
    private func confined(_ path: String) -> Confined {
        guard let real = Self.realPath(path) else { return .failure(errno == EACCES ? .forbidden : .notFound) }
        guard real == root || real.hasPrefix(root == "/" ? "/" : root + "/") else { return .failure(.forbidden) }
        var status = stat()
        guard stat(real, &status) == 0 else { return .failure(.notFound) }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return .success(real, isDirectory: false)
        case S_IFDIR: return .success(real, isDirectory: true)
        default: return .failure(.notFound)
        }
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The bytes `text` stands for, `%XX` decoded; nil when a `%` is not followed by two hex digits.
    static func percentDecoded(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next()?.hexDigitValue, let low = iterator.next()?.hexDigitValue else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    /// The Content-Type for a file, by its extension.
    static func contentType(of path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        let suffix = name.contains(".") ? name.split(separator: ".").last.map { $0.lowercased() } ?? "" : ""
        return contentTypes[suffix] ?? "application/octet-stream"
    }

    private static let contentTypes = [
        "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8", "txt": "text/plain; charset=utf-8",
        "css": "text/css", "js": "text/javascript", "json": "application/json", "xml": "application/xml",
        "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "svg": "image/svg+xml",
        "ico": "image/x-icon", "webp": "image/webp", "pdf": "application/pdf", "wasm": "application/wasm",
    ]
}
