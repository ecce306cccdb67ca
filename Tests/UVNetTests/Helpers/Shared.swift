// A value several threads read and write, behind a lock: for tests that count from loop threads and
// read the counts from the test's own thread.
import Foundation

/// A value behind an `NSLock` (a pthread mutex, which ThreadSanitizer sees).
final class Shared<Value>: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    /// Changes the value in place, holding the lock.
    func update<Result>(_ body: (inout Value) -> Result) -> Result {
        lock.withLock { body(&stored) }
    }
}
