#if os(Linux)
import Glibc
#endif

// Mutexes and condition variables (OS.swift says why every OS call is in the OS*.swift files).
// pthread's, not `Synchronization.Mutex`: on Linux, Thread Sanitizer cannot see `Mutex`'s
// futex-based locking (the standard library is not built with it), and it intercepts pthread's.

/// A pthread mutex on the heap (a pthread mutex must not move once initialized). A value to
/// copy freely; whoever made it calls `destroy()` once, after its last use.
@usableFromInline package struct OSMutex: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    /// A new, unlocked mutex.
    package init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    /// Frees the mutex (unlocked, and used by no one any more).
    package func destroy() {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Takes the lock (not reentrant). Inlinable: every read takes a lock from the API module.
    @inlinable @inline(__always)
    package func lock() { pthread_mutex_lock(mutex) }

    /// Releases the lock.
    @inlinable @inline(__always)
    package func unlock() { pthread_mutex_unlock(mutex) }
}

/// A pthread condition variable on the heap, used with one `OSMutex`; `destroy()` once, last.
package struct OSCondition: @unchecked Sendable {
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    /// A new condition variable.
    package init() {
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    /// Frees the condition variable (no one waiting on it).
    package func destroy() {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    /// Waits for `broadcast`, releasing `mutex` (held by the caller) meanwhile; held again on
    /// return. It may return without a broadcast: callers wait in a loop on their condition.
    package func wait(releasing mutex: OSMutex) { pthread_cond_wait(condition, mutex.mutex) }

    /// Wakes every waiter.
    package func broadcast() { pthread_cond_broadcast(condition) }
}
