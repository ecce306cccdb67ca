// A Duration as a number of seconds, for rates and reports.

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
