// fetch's URL checks and redirect resolution, on their own.
import Testing

@testable import uvdemo

@Suite("HTTP URLs")
struct HTTPURLTests {
    static let good: [(String, String, Int, String, String)] = [
        ("http://example.com", "example.com", 80, "/", "example.com"),
        ("HTTP://Example.com/a/b?q=1&r=%20#frag", "Example.com", 80, "/a/b?q=1&r=%20", "Example.com"),
        ("http://127.0.0.1:8080/x", "127.0.0.1", 8080, "/x", "127.0.0.1:8080"),
        ("http://[::1]:9000/index.html", "::1", 9000, "/index.html", "[::1]:9000"),
        ("http://[2001:db8::7]", "2001:db8::7", 80, "/", "[2001:db8::7]"),
        ("http://host:80/", "host", 80, "/", "host"),
        ("http://host:/", "host", 80, "/", "host"),
        ("http://host?q", "host", 80, "/?q", "host"),
        ("http://h:65535/", "h", 65535, "/", "h:65535"),
    ]

    @Test("good URLs give their host, port, path and Host header", arguments: good)
    func goodURLs(text: String, host: String, port: Int, path: String, hostHeader: String) throws {
        let url = try HTTPURL(text)
        #expect(url.host == host)
        #expect(url.port == port)
        #expect(url.pathAndQuery == path)
        #expect(url.hostHeader == hostHeader)
    }

    static let bad: [(String, String)] = [
        ("", "it is empty"),
        ("http://exa mple.com/", "it contains a space, a control character or a non-ASCII character"),
        ("http://example.com/a b", "it contains a space, a control character or a non-ASCII character"),
        ("http://example.com/\r\nX: injected", "it contains a space, a control character or a non-ASCII character"),
        ("http://example.com/\u{7F}", "it contains a space, a control character or a non-ASCII character"),
        ("http://exämple.com/", "it contains a space, a control character or a non-ASCII character"),
        ("http:///path", "the host is empty"),
        ("http://:80/", "the host is empty"),
        ("http://[]/", "'' is not an IPv6 address"),
        ("http://host:0/", "the port '0' is not in 1...65535"),
        ("http://host:65536/", "the port '65536' is not in 1...65535"),
        ("http://host:99999999999999999999/", "the port '99999999999999999999' is not in 1...65535"),
        ("http://host:-1/", "the port '-1' is not in 1...65535"),
        ("http://host:8a/", "the port '8a' is not in 1...65535"),
        ("http://user:pw@host/", "user names and passwords in URLs are not supported"),
        ("http://::1/", "an IPv6 address must be in brackets"),
        ("http://[::1/", "an IPv6 address without its ']'"),
        ("http://[::g]/", "'::g' is not an IPv6 address"),
        // Zone identifiers (RFC 6874) are not supported.
        ("http://[fe80::1%25eth0]/", "'fe80::1%25eth0' is not an IPv6 address"),
        ("http://[::1]x/", "unexpected text after the IPv6 address"),
        ("http://ho$t/", "the host 'ho$t' has characters a host name cannot have"),
        ("example.com/", "it is not an absolute http:// or https:// URL"),
        ("http:/example.com", "it is not an absolute http:// or https:// URL"),
    ]

    @Test("bad URLs fail with the reason", arguments: bad)
    func badURLs(text: String, reason: String) {
        #expect(throws: HTTPURL.Failure.self) { try HTTPURL(text) }
        do {
            _ = try HTTPURL(text)
        } catch .invalid(_, let actual) {
            #expect(actual == reason)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("https means TLS and port 443 unless one is given; other schemes are refused by name")
    func schemes() throws {
        let secure = try HTTPURL("HTTPS://example.com/a")
        #expect(secure.isSecure && secure.port == 443 && secure.description == "https://example.com/a")
        #expect(try HTTPURL("https://example.com:80/").hostHeader == "example.com:80")
        #expect(try HTTPURL("http://example.com:443/").hostHeader == "example.com:443")
        #expect(try !HTTPURL("http://example.com/").isSecure)
        #expect(throws: HTTPURL.Failure.unsupportedScheme(url: "ftp://x/", scheme: "ftp")) { try HTTPURL("ftp://x/") }
        #expect("\(HTTPURL.Failure.unsupportedScheme(url: "ftp://x/", scheme: "ftp"))".contains("use http:// or https://"))
    }

    static let references: [(String, String)] = [
        // RFC 3986 §5.4.1's normal examples, against http://a/b/c/d;p?q
        ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"), ("/g", "http://a/g"),
        ("//g", "http://g/"), ("?y", "http://a/b/c/d;p?y"), ("g?y", "http://a/b/c/g?y"), ("#s", "http://a/b/c/d;p?q"),
        ("g#s", "http://a/b/c/g"), ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"), ("./", "http://a/b/c/"),
        ("..", "http://a/b/"), ("../", "http://a/b/"), ("../g", "http://a/b/g"), ("../..", "http://a/"),
        ("../../", "http://a/"), ("../../g", "http://a/g"),
        // …and abnormal ones.
        ("../../../g", "http://a/g"), ("/./g", "http://a/g"), ("/../g", "http://a/g"), ("g.", "http://a/b/c/g."),
        ("..g", "http://a/b/c/..g"), ("./../g", "http://a/b/g"), ("g/./h", "http://a/b/c/g/h"), ("g/../h", "http://a/b/c/h"),
        // Absolute locations, and a port kept.
        ("http://other:8080/x", "http://other:8080/x"), ("HTTP://other/", "http://other/"),
    ]

    @Test("redirect locations resolve against the current URL (RFC 3986 §5.4)", arguments: references)
    func resolving(reference: String, expected: String) throws {
        #expect(try HTTPURL("http://a/b/c/d;p?q").resolving(reference).description == expected)
    }

    @Test("redirects between http and https keep each URL's own scheme and port")
    func schemeRedirects() throws {
        #expect(try HTTPURL("http://a:8080/").resolving("https://a/x").description == "https://a/x")
        #expect(try HTTPURL("https://a/").resolving("http://b/").description == "http://b/")
        #expect(try HTTPURL("https://a/p").resolving("//b/q").description == "https://b/q")
        #expect(try HTTPURL("https://a:8443/p").resolving("q").description == "https://a:8443/q")
    }

    @Test("a redirect to another scheme or to a malformed URL is an error")
    func badRedirects() {
        let base = try? HTTPURL("http://a:8080/")
        #expect(throws: HTTPURL.Failure.self) { try base?.resolving("ftp://a/") }
        #expect(throws: HTTPURL.Failure.self) { try base?.resolving("/a b") }
        #expect(throws: HTTPURL.Failure.self) { try base?.resolving("http://a:0/") }
        #expect((try? base?.resolving("/x"))??.description == "http://a:8080/x")
    }
}
