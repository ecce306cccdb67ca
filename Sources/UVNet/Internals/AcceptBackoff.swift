// Pausing a listener when accept() runs out of file descriptors, without spinning.
import CUV
import Glibc

/// libuv retries accept() in a loop inside one callback, so a listener that is out of descriptors
/// would spin. The one way to make libuv stop watching a listener is to leave a connection it accepted
/// un-accepted by us. So each listener keeps one spare descriptor: on EMFILE it gives the spare back,
/// libuv's next accept() succeeds into it, we hold that connection, and libuv pauses. A timer then
/// checks (doubling its delay) whether descriptors are free again before taking the held connection.
final class AcceptBackoff {
    private let timer: Timer?
    private var spareDescriptor: CInt
    private let initial: Duration
    private let maximum: Duration
    private var delay: Duration
    private(set) var isPausing = false

    init(loop: Loop, initial: Duration, maximum: Duration) {
        timer = try? Timer(on: loop)
        timer?.unref()
        spareDescriptor = AcceptBackoff.openSpare()
        self.initial = initial
        self.maximum = maximum
        delay = initial
    }

    /// Out-of-descriptor errors: the ones a paused retry can cure.
    static func isResourceShortage(_ error: UVError) -> Bool {
        error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem
    }

    /// Starts a pause; returns true when this is a new pause (report the error once per pause).
    func pause(then resume: @escaping () -> Void) -> Bool {
        guard !isPausing else { return false }
        isPausing = true
        if spareDescriptor >= 0 {
            Glibc.close(spareDescriptor)
            spareDescriptor = -1
        }
        timer?.start(after: delay, resume)
        return true
    }

    /// The pause did not cure it: wait twice as long.
    func pauseAgain(then resume: @escaping () -> Void) {
        delay = min(delay * 2, maximum)
        timer?.start(after: delay, resume)
    }

    /// Tries to take the spare descriptor back: if that works, descriptors are free again.
    func resourcesAvailable() -> Bool {
        if spareDescriptor < 0 { spareDescriptor = AcceptBackoff.openSpare() }
        return spareDescriptor >= 0
    }

    func resume() {
        isPausing = false
        delay = initial
        _ = resourcesAvailable()
    }

    func close() {
        timer?.close()
        if spareDescriptor >= 0 { Glibc.close(spareDescriptor) }
        spareDescriptor = -1
    }

    private static func openSpare() -> CInt {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }
}
