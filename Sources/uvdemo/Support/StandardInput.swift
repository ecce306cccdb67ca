// Reading the demos' input from stdin when no arguments are given.
enum StandardInput {
    /// Every line of stdin, without newlines.
    static func lines() -> [String] {
        Array(sequence(state: ()) { _ in readLine(strippingNewline: true) })
    }
}
