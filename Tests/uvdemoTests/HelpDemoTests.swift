// uvdemo's help as a newcomer reads it: the demos grouped as the seeds group them, examples last.
import Testing

@Suite("help")
struct HelpDemoTests {
    @Test("uvdemo help lists the demos by kind")
    func groups() throws {
        let help = try Demo.run(["help"])
        #expect(help.status == 0)
        for group in ["THE MAIN DEMO", "SOCKETS", "NAMES AND SERVICES", "HTTP", "LOAD"] {
            #expect(help.stdout.contains("\(group) SUBCOMMANDS:"), "\(help.stdout)")
        }
    }

    @Test("each demo's --help ends with examples", arguments: [
        "tour", "echo-server", "echo-client", "time-server", "time-client", "resolve", "info", "fetch", "serve", "load",
    ])
    func examples(demo: String) throws {
        let help = try Demo.run([demo, "--help"])
        #expect(help.status == 0)
        let lines = help.stdout.split(separator: "\n")
        let heading = try #require(lines.lastIndex(of: "EXAMPLES:"), "\(help.stdout)")
        let examples = lines[(heading + 1)...]
        #expect(!examples.isEmpty)
        #expect(examples.allSatisfy { $0.contains("uvdemo \(demo)") }, "\(help.stdout)")
    }
}
