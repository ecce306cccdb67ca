// The response statuses the file server sends, with their reason phrases.
import UVNet

struct HTTPStatus: Equatable {
    let code: Int
    let reason: String

    static let ok = HTTPStatus(code: 200, reason: "OK")
    static let partialContent = HTTPStatus(code: 206, reason: "Partial Content")
    static let movedPermanently = HTTPStatus(code: 301, reason: "Moved Permanently")
    static let notModified = HTTPStatus(code: 304, reason: "Not Modified")
    static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    static let rangeNotSatisfiable = HTTPStatus(code: 416, reason: "Range Not Satisfiable")
    static let fieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    static let versionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")

    /// The status that refuses a request that failed to parse with `error`.
    init(refusing error: HTTPParseError) {
        switch error {
        case .headTooLarge, .tooManyFields: self = .fieldsTooLarge
        case .unsupportedTransferEncoding: self = .notImplemented
        case .unsupportedVersion: self = .versionNotSupported
        default: self = .badRequest
        }
    }

    /// The status that answers a request for a file that could not be opened with `error`: gone (404),
    /// not readable (403), out of descriptors for now (503), or something else wrong here (500).
    init(opening error: UVError) {
        switch error {
        case .noSuchFile: self = .notFound
        case .permissionDenied: self = .forbidden
        case .tooManyOpenFiles, .tooManyOpenFilesInSystem: self = .serviceUnavailable
        default: self = .internalServerError
        }
    }

    private init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }
}
