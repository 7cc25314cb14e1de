import CowDBFormat
import Synchronization
import CCowDBSupport
#if canImport(Glibc)
import Glibc
#endif

// The lock file (`lock`): the writer's lock, and one shared page through which a writer
// tells read-only processes about new commits without a system call per transaction.
//
//   offset size field
//   0      8    magic        "CowDBLck"
//   8      8    sequence     seqlock: odd while the writer updates the fields below
//   16     8    version      latest committed version
//   24     8    commitPage   page of its commit record in the data file
//   32     8    generation   data file generation (compaction bumps it)
//   40     8    indexCount   records in the index (including the latest)
//   48     8    writerPID    process that published last (informational)
//   56 …        zero to 4096
//
// Processes that wait for a commit (change feeds) wait on the sequence's low 32 bits with a
// futex; the writer wakes them after each publication.
//
// The writer holds an exclusive open-file-description lock (F_OFD_SETLK) on byte 0. OFD
// locks belong to the open file, not the process, so a second write-open in the same
// process is refused like one in another process.

/// The lock file: writer lock plus the shared announcement page.
package final class LockFile: @unchecked Sendable {
    package static let size = 4096
    package static let magic: UInt64 = 0x6B63_4C42_4477_6F43 // "CowDBLck" little-endian

    private let descriptor: Atomic<Int32>
    package let path: String
    package let page: UnsafeMutableRawPointer?

    /// The lock file's descriptor (-1 once closed).
    private var fd: Int32 { descriptor.load(ordering: .relaxed) }

    /// Opens (creating when allowed) the lock file and maps its page read-write (writer) or read-only.
    package init(path: String, writable: Bool, fileMode: mode_t) throws {
        self.path = path
        let fd = Glibc.open(path, (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, fileMode & 0o664)
        if fd < 0, !writable, errno == ENOENT {
            // No lock file: no writer has this database open. A read-only open proceeds and
            // sees the commits on disk (and none that a later writer adds).
            descriptor = Atomic(-1)
            page = nil
            return
        }
        guard fd >= 0 else { throw CowDBError.io(operation: "open", path: path, errno: errno) }
        descriptor = Atomic(fd)
        if writable {
            var info = stat()
            if fstat(fd, &info) == 0, info.st_size < LockFile.size { _ = ftruncate(fd, off_t(LockFile.size)) }
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CowDBError.io(operation: "fstat", path: path, errno: errno) }
        if info.st_size >= LockFile.size,
           let address = mmap(nil, LockFile.size, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0),
           address != MAP_FAILED {
            page = address
        } else {
            page = nil
        }
    }

    deinit {
        close()
        if let page { munmap(page, LockFile.size) }
    }

    /// Releases the writer lock and closes the descriptor. The unlock is explicit: the map of
    /// the shared page holds a reference to the open file description, which would otherwise
    /// keep the lock alive until the map goes.
    package func close() {
        let fd = descriptor.exchange(-1, ordering: .relaxed)
        guard fd >= 0 else { return }
        var lock = flock()
        lock.l_type = Int16(F_UNLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 1
        _ = fcntl(fd, COWDB_F_OFD_SETLK, &lock)
        _ = Glibc.close(fd)
    }

    /// Takes the exclusive writer lock, waiting up to `timeout` seconds (0: fail at once).
    package func lockForWriting(timeout: Double) throws {
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 1
        let deadline = timeout > 0 ? monotonicSeconds() + timeout : 0
        while true {
            if fcntl(fd, COWDB_F_OFD_SETLK, &lock) == 0 { return }
            let error = errno
            guard error == EAGAIN || error == EACCES || error == EINTR else {
                throw CowDBError.io(operation: "fcntl(F_OFD_SETLK)", path: path, errno: error)
            }
            if monotonicSeconds() >= deadline { throw CowDBError.locked(path: path) }
            usleep(2000)
        }
    }

    /// Publishes a new commit for readers in other processes (seqlock write).
    package func publish(version: UInt64, commitPage: UInt64, generation: UInt64, indexCount: Int) {
        guard let page else { return }
        let sequence = cowdb_atomic_load_u64(page + 8)
        cowdb_atomic_store_u64(page, LockFile.magic)
        cowdb_atomic_store_u64(page + 8, sequence | 1)
        cowdb_atomic_fence()
        cowdb_atomic_store_u64(page + 16, version)
        cowdb_atomic_store_u64(page + 24, commitPage)
        cowdb_atomic_store_u64(page + 32, generation)
        cowdb_atomic_store_u64(page + 40, UInt64(indexCount))
        cowdb_atomic_store_u64(page + 48, UInt64(getpid()))
        cowdb_atomic_fence()
        cowdb_atomic_store_u64(page + 8, (sequence | 1) &+ 1)
        // Wakes change feeds waiting on the sequence, in this process and in others.
        _ = cowdb_futex_wake(page + 8)
    }

    /// The published sequence: it changes with every publication (0 without a shared page).
    package func publicationSequence() -> UInt64 {
        guard let page else { return 0 }
        return cowdb_atomic_load_u64(page + 8)
    }

    /// Waits until the writer publishes after `sequence` (a value `publicationSequence()`
    /// returned), at most `timeout` seconds; returns at once if it already has. Without a
    /// shared page (no writer ever opened the database), just sleeps up to `timeout`. Blocks
    /// the calling thread without spinning: the writer's `publish` wakes it (a futex on the
    /// sequence's low 32 bits, which change with every publication).
    package func waitForPublication(after sequence: UInt64, timeout: Double) {
        let nanoseconds = Int64(max(0, min(timeout, 3_600)) * 1e9)
        guard let page else { return sleepNanoseconds(nanoseconds) }
        guard cowdb_atomic_load_u64(page + 8) == sequence else { return }
        _ = cowdb_futex_wait(page + 8, UInt32(truncatingIfNeeded: sequence), nanoseconds)
    }

    /// What the writer last published, read consistently (seqlock read); nil if never published.
    package func published() -> (version: UInt64, commitPage: UInt64, generation: UInt64, indexCount: Int)? {
        guard let page, cowdb_atomic_load_u64(page) == LockFile.magic else { return nil }
        for _ in 0 ..< 1000 {
            let before = cowdb_atomic_load_u64(page + 8)
            if before & 1 != 0 { continue }
            let version = cowdb_atomic_load_u64(page + 16)
            let commitPage = cowdb_atomic_load_u64(page + 24)
            let generation = cowdb_atomic_load_u64(page + 32)
            let indexCount = cowdb_atomic_load_u64(page + 40)
            cowdb_atomic_fence()
            if cowdb_atomic_load_u64(page + 8) == before {
                return (version, commitPage, generation, Int(clamping: indexCount))
            }
        }
        return nil
    }
}

/// Sleeps the calling thread for `nanoseconds`.
package func sleepNanoseconds(_ nanoseconds: Int64) {
    var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
}

/// Seconds on the monotonic clock.
package func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
