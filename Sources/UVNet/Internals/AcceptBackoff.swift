// Pausing a listener when accept() runs out of file descriptors, without spinning.
import CUV
import Glibc

/// libuv retries accept() in a loop inside one callback, so a listener out of descriptors would spin; the one way to
/// make libuv stop watching it is to leave a connection it accepted un-accepted by us. So each listener keeps a spare
/// descriptor: on EMFILE it gives the spare back, libuv's next accept() succeeds into it, we hold that connection, and
/// libuv pauses. A timer (doubling its delay) then checks for free descriptors before taking it.
final class AcceptBackoff {
    /// The first pause; it doubles up to `maximum`.
    private static let initial: Duration = .milliseconds(10)
    private static let maximum: Duration = .seconds(1)
    private let timer: Timer?
    /// Nil while given back (during a pause), or when even the first could not be opened.
    private var spareDescriptor: CInt?
    private var delay = initial
    private(set) var isPausing = false

    init(loop: Loop) {
        timer = try? Timer(on: loop)
        timer?.unref()
        spareDescriptor = AcceptBackoff.openSpare()
    }

    /// Out-of-descriptor errors: the ones a paused retry can cure.
    static func isResourceShortage(_ error: UVError) -> Bool {
        error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem
    }

    /// Starts a pause; returns true when this is a new pause (report the error once per pause).
    func pause(then resume: @escaping () -> Void) -> Bool {
        guard !isPausing else { return false }
        isPausing = true
        giveBackSpare()
        timer?.start(after: delay, resume)
        return true
    }

    /// The pause did not cure it: wait twice as long.
    func pauseAgain(then resume: @escaping () -> Void) {
        delay = min(delay * 2, Self.maximum)
        timer?.start(after: delay, resume)
    }

    /// Tries to take the spare descriptor back: if that works, descriptors are free again.
    func resourcesAvailable() -> Bool {
        if spareDescriptor == nil { spareDescriptor = AcceptBackoff.openSpare() }
        return spareDescriptor != nil
    }

    func resume() {
        isPausing = false
        delay = Self.initial
        _ = resourcesAvailable()
    }

    func close() {
        timer?.close()
        giveBackSpare()
    }

    private func giveBackSpare() {
        if let spareDescriptor { Glibc.close(spareDescriptor) }
        spareDescriptor = nil
    }

    /// A descriptor to hold in reserve, or nil when none is free.
    private static func openSpare() -> CInt? {
        let descriptor = open("/dev/null", O_RDONLY | O_CLOEXEC)
        do {
            try posixCheck(descriptor, "open a spare descriptor")
            return descriptor
        } catch {
            return nil
        }
    }
}
