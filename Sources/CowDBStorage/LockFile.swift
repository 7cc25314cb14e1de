import CowDBFormat
import Synchronization
import CCowDBSupport

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
    package init(path: String, writable: Bool, fileMode: UInt32) throws {
        self.path = path
        let fd: Int32
        do {
            fd = try OS.open(path, writable: writable, create: writable, mode: fileMode & 0o664)
        } catch let CowDBError.io(_, _, code) where !writable && code == OSErrno.noSuchFile {
            // No lock file: no writer has this database open. A read-only open proceeds and
            // sees the commits on disk (and none that a later writer adds).
            descriptor = Atomic(-1)
            page = nil
            return
        }
        let length: UInt64
        do {
            if writable, let current = try? OS.length(fd, path: path), current < LockFile.size {
                try? OS.resize(fd, to: UInt64(LockFile.size), path: path)
            }
            length = try OS.length(fd, path: path)
        } catch {
            OS.close(fd)
            throw error
        }
        descriptor = Atomic(fd)
        page = length >= LockFile.size ? try? OS.mapShared(fd, length: LockFile.size, writable: writable, path: path) : nil
    }

    deinit {
        close()
        if let page { OS.unmap(page, length: LockFile.size) }
    }

    /// Releases the writer lock and closes the descriptor. The unlock is explicit: the map of
    /// the shared page holds a reference to the open file description, which would otherwise
    /// keep the lock alive until the map goes.
    package func close() {
        let fd = descriptor.exchange(-1, ordering: .relaxed)
        guard fd >= 0 else { return }
        OS.unlock(fd)
        OS.close(fd)
    }

    /// Takes the exclusive writer lock, waiting up to `timeout` seconds (0: fail at once).
    package func lockForWriting(timeout: Double) throws {
        let deadline = timeout > 0 ? OS.monotonicSeconds() + timeout : 0
        while try !OS.tryLockExclusively(fd, path: path) {
            if OS.monotonicSeconds() >= deadline { throw CowDBError.locked(path: path) }
            OS.sleep(microseconds: 2000)
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
        cowdb_atomic_store_u64(page + 48, OS.processID())
        cowdb_atomic_fence()
        cowdb_atomic_store_u64(page + 8, (sequence | 1) &+ 1)
        // Wakes change feeds waiting on the sequence, in this process and in others.
        OS.wake(onWord: page + 8)
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
        guard let page else { return OS.sleep(nanoseconds: nanoseconds) }
        guard cowdb_atomic_load_u64(page + 8) == sequence else { return }
        OS.wait(onWord: page + 8, whileEquals: UInt32(truncatingIfNeeded: sequence), nanoseconds: nanoseconds)
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
