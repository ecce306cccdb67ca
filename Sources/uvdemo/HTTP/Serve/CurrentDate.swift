// The Date header's value, formatted once a second rather than once a response.
import Glibc
import UVNet

final class CurrentDate: Sendable {
    private let latest: LoopBound<(second: Int, text: String)>

    init(on loop: Loop) {
        latest = LoopBound((-1, ""), on: loop)
    }

    /// Seconds since the epoch.
    static var now: Int { time(nil) }

    /// `second` as a Date header says it; the same string all that second.
    func text(at second: Int) -> String {
        if latest.value.second != second { latest.value = (second, HTTPDate.format(second)) }
        return latest.value.text
    }
}
