// Name resolution: names, numeric hosts without the thread pool, services, failures, cancellation.
import Testing
import UVNet
import UVNetTestSupport

@Suite("Resolver")
struct ResolverTests {
    /// Runs one resolution to its end, failing (not hanging) after 15 seconds.
    private func resolve(_ host: String, service: String? = nil, family: Resolver.Family = .any) throws
        -> Result<[SocketAddress], UVError>
    {
        try withLoop { loop in
            var outcome: Result<[SocketAddress], UVError>?
            let guardTimer = try Timer(on: loop)
            guardTimer.unref()
            let request = Resolver.resolve(host: host, service: service, family: family, on: loop) { outcome = $0 }
            guardTimer.start(after: .seconds(15)) {
                Issue.record("resolving \(host) took more than 15 s")
                request.cancel()
            }
            loop.run()
            guardTimer.close()
            return try #require(outcome)
        }
    }

    @Test("localhost resolves to a loopback address")
    func localhost() throws {
        let addresses = try resolve("localhost", service: "80").get()
        #expect(!addresses.isEmpty)
        #expect(addresses.allSatisfy { $0.ipAddress == "127.0.0.1" || $0.ipAddress == "::1" })
        #expect(addresses.allSatisfy { $0.port == 80 })
    }

    @Test("numeric hosts resolve to exactly themselves, before resolve returns", arguments: ["127.0.0.1", "::1"])
    func numeric(host: String) throws {
        try withLoop { loop in
            var outcome: Result<[SocketAddress], UVError>?
            let request = Resolver.resolve(host: host, service: "8080", on: loop) { outcome = $0 }
            #expect(request.isFinished, "a numeric host went to the thread pool")
            let addresses = try outcome?.get()
            #expect(addresses == [try SocketAddress(ip: host, port: 8080)])
        }
    }

    @Test("a numeric host with a service name is looked up off the loop's thread (services may block)")
    func namedServiceOffLoop() throws {
        try withLoop { loop in
            var outcome: Result<[SocketAddress], UVError>?
            let request = Resolver.resolve(host: "127.0.0.1", service: "http", on: loop) { outcome = $0 }
            #expect(!request.isFinished, "a service name was looked up on the loop's thread")
            #expect(outcome == nil)
            loop.run()
            let addresses = try outcome?.get()
            #expect(addresses == [try SocketAddress(ip: "127.0.0.1", port: 80)])
        }
    }

    @Test("a service name resolves to its port")
    func serviceName() throws {
        #expect(try resolve("127.0.0.1", service: "http").get() == [try SocketAddress(ip: "127.0.0.1", port: 80)])
        #expect(try Resolver.port(ofService: "https") == 443)
        #expect(try Resolver.port(ofService: "domain", socketType: .datagram) == 53)
        #expect(throws: UVError.serviceNotFound) { try Resolver.port(ofService: "no-such-service") }
        #expect(throws: UVError.serviceNotFound) { try Resolver.port(ofService: "70000") }
    }

    @Test("asking for the wrong family of a numeric host is an error")
    func wrongFamily() throws {
        #expect(throws: UVError.noAddressInFamily) { try resolve("::1", family: .ipv4).get() }
    }

    @Test("a name that cannot exist is an error that names it")
    func nonexistent() throws {
        let error = #expect(throws: UVError.self) { try resolve("no-such-host.invalid").get() }
        #expect(error?.description.contains("no-such-host.invalid") == true)
    }

    @Test("reverse resolution names 127.0.0.1 and the service of its port")
    func reverse() throws {
        try withLoop { loop in
            var outcome: Result<Resolver.Name, UVError>?
            Resolver.reverse(try SocketAddress(ip: "127.0.0.1", port: 80), on: loop) { outcome = $0 }
            loop.run()
            let name = try #require(try outcome?.get())
            #expect(!name.host.isEmpty)
            #expect(name.service == "http")
        }
    }

    @Test("canceling queued requests completes each exactly once, with .canceled")
    func cancelQueued() throws {
        try withLoop { loop in
            // Keep every pool thread busy with lookups that must ask the name server (milliseconds at
            // least), so requests made right after them are surely still queued when canceled.
            var blockerResults = 0
            for index in 0..<16 {
                Resolver.resolve(host: "blocker-\(index).no-such-host.invalid", on: loop) { _ in blockerResults += 1 }
            }
            let count = 20
            var outcomes = [[Result<[SocketAddress], UVError>]](repeating: [], count: count)
            let requests = (0..<count).map { index in
                Resolver.resolve(host: "localhost", on: loop) { outcomes[index].append($0) }
            }
            let canceled = requests.suffix(10).map { $0.cancel() }
            loop.run()
            #expect(blockerResults == 16)
            #expect(canceled.contains(true), "no request was still queued")
            for (index, results) in outcomes.enumerated() {
                #expect(results.count == 1, "request \(index) completed \(results.count) times")
            }
            for (offset, wasCanceled) in canceled.enumerated() {
                let result = outcomes[count - 10 + offset].first
                if wasCanceled {
                    #expect(throws: UVError.canceled) { try result?.get() }
                } else {
                    #expect(throws: Never.self) { try result?.get() }
                }
            }
            #expect(requests.allSatisfy { $0.isFinished })
        }
    }
}
