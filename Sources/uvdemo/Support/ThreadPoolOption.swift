// `--threadpool N`: the size of libuv's thread pool, where name lookups run (4 threads by default: a
// few slow DNS answers can hold them all).
import ArgumentParser
import Glibc

struct ThreadPoolOption: ParsableArguments {
    @Option(name: .customLong("threadpool"), help: "Threads in libuv's pool for name lookups (1...1024; default: UV_THREADPOOL_SIZE, or 4).")
    var size: Int?

    func validate() throws {
        guard size.map({ (1...1024).contains($0) }) ?? true else { throw ValidationError("--threadpool must be in 1...1024") }
    }

    /// Sets `UV_THREADPOOL_SIZE` for this process (and the workers it starts): libuv reads it when the
    /// pool first starts, so this must come before the first lookup.
    func apply() {
        if let size { setenv("UV_THREADPOOL_SIZE", "\(size)", 1) }
    }
}
