// Signals for async code: await the next one, so an async server's graceful shutdown reads as one.

extension Signal {
    /// Waits for the first of `numbers` to arrive and returns it. Watching starts now and ends with
    /// the wait, so a signal that comes later takes its default course again; canceling the task ends
    /// the wait with `CancellationError`. From any thread; the handles live on `loop`.
    ///
    /// ```swift
    /// try loop.run {
    ///     async let serving: Void = listener.serve { connection in … }
    ///     _ = try await Signal.next(of: [.interrupt, .terminate], on: loop)
    ///     await listener.close()            // stop accepting: serve returns once connections end
    ///     try await serving
    /// }
    /// ```
    /// Throws the `UVError` of a signal that cannot be watched, naming it.
    public static func next(of numbers: [Number], on loop: Loop) async throws -> Number {
        let watching = LoopBound<[Signal]>([], on: loop)
        return try await loop.suspend(
            { wake in
                do {
                    for number in numbers {
                        watching.value.append(try Signal(number, on: loop) {
                            // The first to arrive ends the watch: no later callback runs.
                            watching.value.forEach { $0.close() }
                            wake.resume(.success(number))
                        })
                    }
                } catch {
                    watching.value.forEach { $0.close() }
                    wake.resume(.failure(error))
                }
            },
            abandon: { watching.value.forEach { $0.close() } })
    }
}
