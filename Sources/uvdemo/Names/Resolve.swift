// The seeds' getaddrinfo example: print every address a name resolves to; with --verify, the double
// check that an address's reverse name resolves back to it.
import ArgumentParser
import UVNet

struct Resolve: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo resolve localhost --verify",
        "uvdemo resolve localhost --service http --family 6",
        "uvdemo resolve example.com --timeout 2",
    ]

    static let configuration = CommandConfiguration(
        abstract: "Resolve a host name and print one address per line: family, socket type, address.",
        discussion: """
            --verify reverse-resolves the address (NAME itself when it is an address, else its first \
            answer), forward-resolves that name, and checks the address is among the answers. Exit codes \
            with --verify: 0 verified, 1 the check failed, 2 the address has no reverse name, 3 a lookup failed. \
            --timeout gives up (exit 3) when the answers have not come by then: a DNS server that does not \
            answer holds the lookup for as long as the system's resolver waits (resolv.conf's timeout and \
            attempts), on one of libuv's thread-pool threads (UV_THREADPOOL_SIZE, 4 by default).
            """)

    enum FamilyChoice: String, ExpressibleByArgument {
        case four = "4", six = "6", any

        var family: Resolver.Family {
            switch self {
            case .four: .ipv4
            case .six: .ipv6
            case .any: .any
            }
        }
    }

    @Argument(help: "Host name or address.") var name: String
    @Option(help: "Service name or port, e.g. http or 8080.") var service: String?
    @Option(help: "Address family: 4, 6 or any.") var family: FamilyChoice = .any
    @Flag(help: "Check that the address's reverse name resolves back to it.") var verify = false
    @Option(help: "Seconds to wait for all the answers (default: as long as the system's resolver takes).")
    var timeout: Double?

    func validate() throws {
        guard timeout.map({ $0 > 0 && $0 <= 3600 }) ?? true else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
    }

    func run() throws {
        let loop = try Loop()
        let console = Console.standard
        let (name, service, family, verify) = (name, service, family.family, verify)
        let limit = timeout.map { Duration.milliseconds(Int($0 * 1000)) }
        do {
            try loop.run {
                let entries = try await Resolver.lookup(
                    host: name, service: service, family: family, socketType: .any, on: loop, timeout: limit)
                for entry in entries {
                    console.write("\(entry.address.isIPv6 ? "IPv6" : "IPv4") \(entry.socketType) \(entry.address.ipAddress)\n")
                }
                guard verify, let first = entries.first else { return }
                let address = (try? SocketAddress(ip: name, port: 0)) ?? first.address
                try await ReverseCheck.run(address, on: loop, timeout: limit, console: console)
            }
        } catch let error as UVError where error == .timedOut {
            // Given up on, the lookup may still run on the thread pool: the loop is left, not closed
            // (closing would wait for it), and the failure ends the process at once.
            throw DemoFailure.network(error)
        }
        try loop.close()
    }
}

/// The seeds' double check: address → reverse name → forward addresses, which must include the address.
enum ReverseCheck {
    static func run(_ address: SocketAddress, on loop: Loop, timeout: Duration?, console: Console) async throws {
        let ip = address.ipAddress
        let name: String
        do {
            name = try await Resolver.reverse(address, nameRequired: true, on: loop, timeout: timeout).host
        } catch let error as UVError where error == .hostNotFound {
            throw DemoFailure(message: "verify: \(ip) has no reverse name", exitCode: 2)
        } catch let error as UVError where error != .timedOut {
            throw DemoFailure(message: "verify: reverse lookup failed: \(error)", exitCode: 3)
        }
        let addresses: [SocketAddress]
        do {
            addresses = try await Resolver.resolve(host: name, on: loop, timeout: timeout)
        } catch let error as UVError where error != .timedOut {
            throw DemoFailure(message: "verify: forward lookup of \(name) failed: \(error)", exitCode: 1)
        }
        guard addresses.contains(where: { $0.ipAddress == ip }) else {
            let found = addresses.map(\.ipAddress).joined(separator: ", ")
            throw DemoFailure(message: "verify: \(ip) -> \(name) -> [\(found)]: \(ip) is not among them", exitCode: 1)
        }
        console.write("verified: \(ip) -> \(name) -> \(ip)\n")
    }
}
