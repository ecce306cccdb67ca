// libFuzzer entry for the HTTP parsers, built only by scripts/fuzz (the test target excludes this
// directory) with ResponseOutcome from the tests' helpers. Each input is parsed whole and cut in two where its first byte says: both must end the
// same way, and nothing may crash, hang or read out of bounds (address sanitizer).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParsers(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let cut = Int(first) % (input.count + 1)
    let method = first & 0x80 == 0 ? "GET" : "HEAD"

    let whole = ResponseOutcome(feeding: input, cuts: [], method: method)
    let split = ResponseOutcome(feeding: input, cuts: [cut], method: method)
    precondition(whole == split, "split at \(cut) changed the outcome: \(whole) vs \(split)")

    var reader = HTTPRequestReader()
    var buffer = Array(input[..<cut])
    var requests = 0
    do {
        while try reader.next(from: &buffer) != nil { requests += 1 }
        buffer += input[cut...]
        while try reader.next(from: &buffer) != nil { requests += 1 }
    } catch {}

    let text = String(decoding: input, as: UTF8.self)
    if let url = try? HTTPURL(text) {
        precondition(url.pathAndQuery.hasPrefix("/") && (1...65535).contains(url.port))
        precondition((try? HTTPURL(url.description)) == url, "\(url) does not parse back to itself")
    }
    if let base = try? HTTPURL("http://a/b/c?q"), let resolved = try? base.resolving(text) {
        precondition(resolved.pathAndQuery.hasPrefix("/"))
    }
    return 0
}

