// A value that may travel between threads but is used only on its loop's thread, checked on every access.
import CUV

/// A box for a loop's state: `Sendable`, so tasks and closures may carry it anywhere, but used only on the loop's
/// thread. Every access checks the thread, in release builds too, trapping with a message naming the loop's thread.
///
/// State shared by the connections of one loop (a chat room's members, a server's open connections)
/// lives in one of these instead of in a class marked `@unchecked Sendable`:
/// ```swift
/// let members = LoopBound<[ObjectIdentifier: TCPConnection]>([:], on: loop)
/// try await listener.serve { connection in
///     members.value[ObjectIdentifier(connection)] = connection   // runs on the loop's thread
///     defer { members.value[ObjectIdentifier(connection)] = nil }
///     …
/// }
/// ```
public final class LoopBound<Value>: @unchecked Sendable {  // every access to `stored` checks the loop's thread
    /// The loop whose thread may use the value.
    public let loop: Loop
    private var stored: Value

    /// Boxes `value` for `loop`. It may be created on any thread: the value is handed over whole.
    public init(_ value: sending Value, on loop: Loop) {
        self.loop = loop
        stored = value
    }

    /// The value. Traps when used off the loop's thread.
    public var value: Value {
        get {
            loop.checkOnLoopThread("LoopBound.value")
            return stored
        }
        _modify {
            loop.checkOnLoopThread("LoopBound.value")
            yield &stored
        }
    }
}
