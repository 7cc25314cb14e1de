import CowDBFormat
import CCowDBSupport
#if os(Linux)
import Glibc
#endif

// Waiting: for the writer's lock on the lock file, for a word of shared memory to change, for
// time to pass (OS.swift says why every OS call is in the OS*.swift files). The futex itself is
// in CCowDBSupport/futex.c: its system call is variadic, which Swift cannot call.

extension OS {
    /// Tries to take an exclusive open-file-description lock on byte 0 of the file; false when
    /// another open file description holds it ("fcntl(F_OFD_SETLK)"). OFD locks belong to the
    /// open file, not the process, so a second open in the same process is refused too.
    package static func tryLockExclusively(_ fd: Int32, path: String) throws -> Bool {
        var lock = byteZeroLock(type: F_WRLCK)
        let (result, code) = retryingInterrupted { fcntl(fd, COWDB_F_OFD_SETLK, &lock) }
        if result == 0 { return true }
        if code == EAGAIN || code == EACCES { return false }
        throw CowDBError.io(operation: "fcntl(F_OFD_SETLK)", path: path, errno: code)
    }

    /// Releases the lock `tryLockExclusively` took (nothing if it did not).
    package static func unlock(_ fd: Int32) {
        var lock = byteZeroLock(type: F_UNLCK)
        _ = retryingInterrupted { fcntl(fd, COWDB_F_OFD_SETLK, &lock) }
    }

    /// A `flock` of `type` on byte 0.
    private static func byteZeroLock(type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 1
        return lock
    }

    /// Blocks while the 32-bit word at `address` (in memory shared between processes, or not)
    /// holds `expected`, at most `nanoseconds`: it returns when `wake(onWord:)` is called for
    /// the word, at once if the word differs, or at the timeout. A signal does not end it early.
    package static func wait(onWord address: UnsafeRawPointer, whileEquals expected: UInt32, nanoseconds: Int64) {
        let deadline = monotonicSeconds() + Double(nanoseconds) / 1e9
        var remaining = nanoseconds
        while remaining > 0, cowdb_futex_wait(address, expected, remaining) == EINTR {
            remaining = Int64((deadline - monotonicSeconds()) * 1e9)
        }
    }

    /// Wakes every thread, in every process, blocked in `wait(onWord:)` on the word at `address`.
    package static func wake(onWord address: UnsafeRawPointer) { _ = cowdb_futex_wake(address) }

    /// Sleeps the calling thread for `nanoseconds`, the whole of it even if a signal arrives.
    package static func sleep(nanoseconds: Int64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }
}
