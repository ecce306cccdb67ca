// Name resolution: names, numeric hosts without the thread pool, services, failures, cancellation.
import CUV
import Glibc
import Testing
@testable import UVNet
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
            // Every pool thread is held by a job that waits on a pipe, so the lookups made next surely
            // wait in the queue when canceled, however busy the machine is; the pipe then lets them go.
            let pool = PoolBlocker(on: loop)
            let count = 20
            var outcomes = [[Result<[SocketAddress], UVError>]](repeating: [], count: count)
            let requests = (0..<count).map { index in
                Resolver.resolve(host: "localhost", on: loop) { outcomes[index].append($0) }
            }
            let canceled = requests.suffix(10).map { $0.cancel() }
            pool.release()
            loop.run()
            #expect(canceled.allSatisfy { $0 }, "a request had left the queue: \(canceled)")
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

/// Holds every thread of libuv's pool (`UV_THREADPOOL_SIZE`, or 4) with a job that waits on a pipe until
/// `release()`: work queued meanwhile stays queued.
private final class PoolBlocker {
    private var ends: [CInt] = [0, 0]
    private let threads: Int

    init(on loop: Loop) {
        // As libuv sizes its pool: the variable when set (1 to 1024), else 4.
        threads = min(max(getenv("UV_THREADPOOL_SIZE").flatMap { Int(String(cString: $0)) } ?? 4, 1), 1024)
        precondition(pipe(&ends) == 0, "pipe")
        for _ in 0..<threads {
            let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
            request.pointee.data = UnsafeMutableRawPointer(bitPattern: Int(ends[0]))
            precondition(uv_queue_work(loop.raw, request, { request in
                var byte: UInt8 = 0
                _ = read(CInt(Int(bitPattern: request!.pointee.data)), &byte, 1)
            }, { request, _ in request?.deallocate() }) == 0, "uv_queue_work")
        }
    }

    /// Lets every held thread go.
    func release() {
        let bytes = [UInt8](repeating: 0, count: threads)
        _ = write(ends[1], bytes, bytes.count)
    }

    deinit {
        close(ends[0])
        close(ends[1])
    }
}
