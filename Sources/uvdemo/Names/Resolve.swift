// The seeds' getaddrinfo example: print every address a name resolves to; with --verify, the double
// check that an address's reverse name resolves back to it.
import ArgumentParser
import UVNet

struct Resolve: ParsableCommand, Exemplified {
    static let examples = [
        "uvdemo resolve localhost --verify",
        "uvdemo resolve localhost --service http --family 6",
    ]

    static let configuration = CommandConfiguration(
        abstract: "Resolve a host name and print one address per line: family, socket type, address.",
        discussion: """
            --verify reverse-resolves the address (NAME itself when it is an address, else its first \
            answer), forward-resolves that name, and checks the address is among the answers. Exit codes \
            with --verify: 0 verified, 1 the check failed, 2 the address has no reverse name, 3 a lookup failed.
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

    func run() throws {
        let loop = try Loop()
        let console = Console.standard
        var outcome: Result<Void, DemoFailure> = .success(())
        Resolver.lookup(host: name, service: service, family: family.family, socketType: .any, on: loop) { answer in
            switch answer {
            case .success(let entries):
                for entry in entries {
                    console.write("\(entry.address.isIPv6 ? "IPv6" : "IPv4") \(entry.socketType) \(entry.address.ipAddress)\n")
                }
                guard verify, let first = entries.first else { return }
                let address = (try? SocketAddress(ip: name, port: 0)) ?? first.address
                ReverseCheck.run(address, on: loop, console: console) { outcome = $0 }
            case .failure(let error):
                outcome = .failure(.network(error))
            }
        }
        loop.run()
        try loop.close()
        try outcome.get()
    }
}

/// The seeds' double check: address → reverse name → forward addresses, which must include the address.
enum ReverseCheck {
    static func run(
        _ address: SocketAddress, on loop: Loop, console: Console, _ done: @escaping (Result<Void, DemoFailure>) -> Void
    ) {
        let ip = address.ipAddress
        Resolver.reverse(address, nameRequired: true, on: loop) { reversed in
            let name: String
            switch reversed {
            case .success(let found):
                name = found.host
            case .failure(let error) where error == .hostNotFound:
                return done(.failure(DemoFailure(message: "verify: \(ip) has no reverse name", exitCode: 2)))
            case .failure(let error):
                return done(.failure(DemoFailure(message: "verify: reverse lookup failed: \(error)", exitCode: 3)))
            }
            Resolver.resolve(host: name, on: loop) { forward in
                switch forward {
                case .success(let addresses) where addresses.contains(where: { $0.ipAddress == ip }):
                    console.write("verified: \(ip) -> \(name) -> \(ip)\n")
                    done(.success(()))
                case .success(let addresses):
                    let found = addresses.map(\.ipAddress).joined(separator: ", ")
                    done(.failure(DemoFailure(message: "verify: \(ip) -> \(name) -> [\(found)]: \(ip) is not among them", exitCode: 1)))
                case .failure(let error):
                    done(.failure(DemoFailure(message: "verify: forward lookup of \(name) failed: \(error)", exitCode: 1)))
                }
            }
        }
    }
}
