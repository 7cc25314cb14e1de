import CowDBFormat

/// A value guarded by a pthread mutex (`OSMutex`), with `Synchronization.Mutex`'s `withLock` shape.
///
/// Why not `Mutex`: on Linux, Thread Sanitizer cannot see `Mutex`'s futex-based locking
/// (the standard library is not built with it), so every read transaction showed up as a
/// race with the commit that published the version it reads — noise that would hide a real
/// race. TSan intercepts pthread locks, and an uncontended pthread lock costs about the same.
@usableFromInline package final class Locked<Value>: @unchecked Sendable {
    @usableFromInline let mutex = OSMutex()
    @usableFromInline var value: Value

    /// Guards `value`.
    package init(_ value: Value) {
        self.value = value
    }

    deinit { mutex.destroy() }

    /// Runs `body` with the value while holding the lock (not reentrant). Inlinable: every read
    /// takes it from the API module, and a generic call across modules is not specialized.
    @inlinable @inline(__always)
    package func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        mutex.lock()
        defer { mutex.unlock() }
        return try body(&value)
    }
}
