// What every handle, stream and listener shares about its end, so one async close serves them all.

/// Anything that lives on one loop and is closed there: every `Handle`, `ByteStream` (TLS too) and `ConnectionSource`.
public protocol LoopClosable: Sendable {
    /// The loop it belongs to.
    var loop: Loop { get }

    /// Closes it, on the loop's thread; `completion` runs once it has closed. Idempotent.
    func close(_ completion: (() -> Void)?)
}

extension LoopClosable {
    /// Closes it and returns once it has closed (see `close(_:)`), from any thread. It closes even in
    /// a canceled task: cleanup must not be skipped, and a close always completes, quickly.
    public func close() async {
        await withUnsafeContinuation { (done: UnsafeContinuation<Void, Never>) in
            // Refused only by a closed loop, which has closed every handle: nothing is left to wait for.
            if !loop.runOnLoopThread({ close { done.resume() } }) { done.resume() }
        }
    }
}
