import CowDBFormat
import SystemPackage
#if os(Linux)
import Glibc
#else
#error("CowDB is built and tested on Linux only; a port implements Sources/CowDBStorage/OS*.swift")
#endif

// Every call CowDB makes to the operating system is in the files named OS*.swift of this module:
// files and maps (OS+Files.swift), mutexes (OS+Threads.swift), the writer's file lock, futex
// waits and sleeps (OS+Waits.swift), and the clock, thread and process identifiers and error
// numbers (here). Every other file, in every module, calls these, so a port to another
// system is these files. They use swift-system's `FileDescriptor` and `Errno` where it has the
// call (it retries a call interrupted by a signal, EINTR); the rest call the C library here,
// through `retryingInterrupted` where a call can be interrupted. A failure is thrown as
// `CowDBError.io(operation:path:errno:)`, the operation named after the C call.

/// The operating system's calls (in this file and the other OS*.swift files).
package enum OS {
    /// Seconds on the monotonic clock.
    package static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Sleeps about `microseconds` (a signal may end it early: every caller sleeps in a loop
    /// that checks what it waits for).
    package static func sleep(microseconds: UInt32) { _ = usleep(microseconds) }

    /// An identifier of the calling thread, unique among the process's live threads (never 0).
    package static func currentThread() -> UInt { UInt(pthread_self()) }

    /// The calling process's identifier.
    package static func processID() -> UInt64 { UInt64(getpid()) }

    /// Calls `body` (a C call returning -1 and setting `errno` on failure) again while it
    /// fails with EINTR; returns its result and the `errno` of a failure (0 on success).
    static func retryingInterrupted<R: BinaryInteger>(_ body: () -> R) -> (result: R, errno: Int32) {
        while true {
            let result = body()
            if result != -1 { return (result, 0) }
            let code = errno
            if code != EINTR { return (result, code) }
        }
    }

    /// Runs a swift-system call, throwing its `Errno` as `CowDBError.io` for `operation` on `path`.
    @inline(__always)
    static func io<R>(_ operation: String, _ path: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as Errno {
            throw CowDBError.io(operation: operation, path: path, errno: error.rawValue)
        }
    }
}

/// The error numbers the engine tells apart, by swift-system's names, so that no file but these
/// needs the C library's.
package enum OSErrno {
    /// ENOENT: no such file or directory.
    package static let noSuchFile = Errno.noSuchFileOrDirectory.rawValue
    /// EACCES: permission denied.
    package static let permissionDenied = Errno.permissionDenied.rawValue
    /// EPERM: operation not permitted.
    package static let notPermitted = Errno.notPermitted.rawValue
    /// EINVAL: invalid argument (also: a file system that cannot sync a directory).
    package static let invalidArgument = Errno.invalidArgument.rawValue
    /// EROFS: read-only file system.
    package static let readOnlyFileSystem = Errno.readOnlyFileSystem.rawValue
}
