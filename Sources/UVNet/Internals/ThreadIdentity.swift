// Which thread owns a loop, checked on every handle call (release builds too), and the message when the check fails.
import CUV
import Glibc

/// The thread that created a loop, as the cheap word every call compares (`cuv_current_thread`) and
/// the kernel's thread id that messages name.
struct ThreadIdentity: Sendable {
    private let word: UInt
    let kernelID: CInt

    /// The calling thread.
    init() {
        word = cuv_current_thread()
        kernelID = cuv_kernel_thread_id()
    }

    /// True on the thread this identity was taken on.
    @inline(__always)
    var isCurrent: Bool { cuv_current_thread() == word }

    /// `thread 4242 ("uvdemo")`: the kernel's id and name of a thread of this process.
    static func describe(_ kernelID: CInt) -> String {
        let name = readName(of: kernelID).map { " (\"\($0)\")" } ?? ""
        return "thread \(kernelID)\(name)"
    }

    private static func readName(of kernelID: CInt) -> String? {
        guard let file = fopen("/proc/self/task/\(kernelID)/comm", "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, CInt(buffer.count), file) != nil else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.hasSuffix("\n") ? String(name.dropLast()) : name
    }
}

/// Stops the process: `caller` ran on a thread that does not own the loop it touched. A trap and not an
/// error, because the call has already raced with the loop's thread; the message says where to go.
@inline(never)
func offLoopThread(_ caller: String, owner: ThreadIdentity) -> Never {
    fatalError(
        """
        UVNet: \(caller) called on \(ThreadIdentity.describe(cuv_kernel_thread_id())), but its loop \
        belongs to \(ThreadIdentity.describe(owner.kernelID)). A loop and its handles are used on the \
        loop's thread only: get there with loop.execute { … }, or use the async API, which goes there \
        by itself.
        """)
}
