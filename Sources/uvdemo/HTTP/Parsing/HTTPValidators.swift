// Validators (RFC 9110 §8.8, §13): what a static file's ETag and Last-Modified say, and whether a
// conditional request (If-None-Match, If-Modified-Since, If-Range) still holds for the file as it is.

/// A file's validators, made the way nginx makes them for static files, so caches treat both alike.
struct HTTPValidators: Equatable {
    /// `"<modification time in hex>-<size in hex>"`: strong, and changes with either.
    let entityTag: String
    /// The modification time as an HTTP date (whole seconds).
    let lastModified: String
    /// The modification time, in seconds since the epoch.
    let modifiedSeconds: Int

    init(size: Int, modifiedSeconds: Int) {
        entityTag = "\"\(String(modifiedSeconds, radix: 16))-\(String(size, radix: 16))\""
        lastModified = HTTPDate.format(modifiedSeconds)
        self.modifiedSeconds = modifiedSeconds
    }

    /// True when a GET or HEAD with these conditions is answered 304 Not Modified: If-None-Match
    /// names this tag (weakly compared) or is `*`; without If-None-Match, If-Modified-Since is a valid
    /// date no earlier than the modification time.
    func notModified(ifNoneMatch: String?, ifModifiedSince: String?) -> Bool {
        if let ifNoneMatch {
            return ifNoneMatch[...].trimmingASCIISpaces() == "*" || Self.tags(in: ifNoneMatch).contains(Self.opaque(entityTag))
        }
        guard let ifModifiedSince, let since = HTTPDate.parse(ifModifiedSince) else { return false }
        return modifiedSeconds <= since
    }

    /// True when a Range may be honored at `now` (seconds since the epoch): no If-Range, or one that
    /// names this tag, or this exact date while it is a strong validator, at least a second old (RFC 9110
    /// §8.8.2.2: within its second the file may have changed again). Otherwise the client's copy may be
    /// stale, and it gets the whole file.
    func rangeApplies(ifRange: String?, now: Int) -> Bool {
        guard let ifRange = ifRange?[...].trimmingASCIISpaces() else { return true }
        return ifRange == entityTag || (ifRange == lastModified && modifiedSeconds < now)
    }

    /// The tags of an If-None-Match list, each without its `W/` (weak comparison ignores it).
    private static func tags(in list: String) -> [Substring] {
        list.split(separator: ",").map { opaque(String($0.trimmingASCIISpaces())) }
    }

    private static func opaque(_ tag: String) -> Substring {
        tag.hasPrefix("W/") ? tag.dropFirst(2) : tag[...]
    }
}
