import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation
import Synchronization

/// An embedded, versioned key-value database: a directory holding an append-only data
/// file (`data`), its index (`index`) and a lock file (`lock`).
///
/// ```swift
/// let db = try Database(path: "/tmp/example.cowdb")
/// try db.write { txn in try txn.put(Array("k".utf8), Array("v".utf8)) }
/// let value = try db.read { txn in try txn.get(Array("k".utf8)) }
/// let old = try db.read(at: 1) { txn in try txn.get(Array("k".utf8)) }
/// ```
///
/// `Database` is `Sendable`: share one instance between threads. Writers serialize (a second
/// `write` waits its turn); readers never wait for the writer and see one stable version
/// each. The calls block the calling thread; from Swift concurrency, use their async forms
/// (`try await db.write { … }`, `read`, `compact`, `backup`), which run on CowDB's own threads
/// and never block the cooperative pool. `changes(after:keyspace:)` is a feed of commits.
public final class Database: @unchecked Sendable {
    /// The database directory.
    public let path: String
    /// The options it was opened with (the page size is the database's own).
    public let options: DatabaseOptions

    let backend: any StorageBackend
    let lockFile: LockFile
    /// Whether a compaction of this instance is running.
    let compacting = Locked(false)
    /// Commits since automatic compaction last measured the file.
    let commitsSinceCheck = Atomic<Int>(0)
    /// Whether an automatic compaction's background thread (measurement or compaction) runs.
    let automaticCheckRunning = Atomic<Bool>(false)
    /// Data file bytes after the last compaction, or at the first commit after opening
    /// (UInt64.max until then): where automatic compaction's growth counts from.
    let compactedLength = Atomic<UInt64>(.max)
    /// The state lock: which generation is current, and whether the database is open. Held
    /// for a few loads, never across I/O; a reader takes it, then the generation's head lock
    /// (Generation.swift), never the other way round.
    let state: Locked<State>
    let writerGate = NSLock()
    /// Where change feeds that have caught up wait for the next commit.
    let watcher: CommitWatcher
    let writerThread = Atomic<UInt>(0)

    /// What the state lock guards.
    struct State {
        /// The current generation: its files and what readers start from. Compaction swaps
        /// it (under the writer gate and this lock) when it switches generations.
        var generation: Generation
        var closed = false
        var snapshots = 0
    }

    /// Opens the database, or (with `target`) creates and opens a new generation's files for
    /// compaction to write into (Database+Open.swift).
    init(path: String, options: DatabaseOptions, backend: any StorageBackend, target: GenerationTarget?) throws {
        try Database.prepareDirectory(path: path, options: options, backend: backend)
        self.path = path
        self.options = options
        self.backend = backend
        lockFile = try LockFile(path: path + "/" + (target == nil ? "lock" : Database.compactionLockName), writable: !options.readOnly, fileMode: options.fileMode)
        if !options.readOnly {
            try lockFile.lockForWriting(timeout: options.lockTimeout)
            try Database.createFiles(path: path, options: options, backend: backend, target: target)
        }
        let generation = try Database.openGeneration(path: path, options: options, backend: backend, target: target, lockFile: lockFile)
        state = Locked(State(generation: generation))
        watcher = CommitWatcher(lockFile: lockFile)
    }

    /// The current generation.
    var generation: Generation { state.withLock { $0.generation } }
    /// The current generation's data file.
    var store: PageStore { generation.store }

    // MARK: Reading

    /// The newest committed version (0 for an empty database).
    public var latestVersion: UInt64 {
        (try? currentSource().version) ?? generation.current().latest?.record.version ?? 0
    }

    /// Runs `body` on the latest committed version.
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        try run(ReadTransaction(source: try currentSource()), body)
    }

    /// Runs `body` on version `version`, however many commits have happened since.
    public func read<T>(at version: UInt64, _ body: (ReadTransaction) throws -> T) throws -> T {
        try run(ReadTransaction(source: try source(at: version)), body)
    }

    /// Runs `body` on the last version committed at or before `date`.
    public func read<T>(asOf date: Date, _ body: (ReadTransaction) throws -> T) throws -> T {
        try run(ReadTransaction(source: try source(asOf: date)), body)
    }

    /// A long-lived read view of `version` (default: the latest), usable from any thread
    /// until `close()`. `Database.close()` throws `busy` while snapshots are open.
    public func snapshot(at version: UInt64? = nil) throws -> Snapshot {
        let source = try version.map { try self.source(at: $0) } ?? currentSource()
        try state.withLock { state in
            guard !state.closed else { throw CowDBError.closed }
            state.snapshots += 1
        }
        return Snapshot(database: self, source: source)
    }

    /// Called by `Snapshot.close()`.
    func snapshotClosed() { state.withLock { $0.snapshots -= 1 } }

    /// Every committed version still in the file, oldest first.
    public func versions() throws -> [VersionInfo] {
        _ = try currentSource()
        let (generation, view) = try openView()
        let pageSize = generation.store.layout.pageSize
        return try (0 ..< view.index.count).map { VersionInfo(try view.index.record($0), pageSize: pageSize) }
    }

    /// The page size of this database.
    public var pageSize: Int { store.layout.pageSize }
    /// The longest key this database accepts.
    public var maxKeySize: Int { store.layout.maxKeySize }
    /// The longest value this database accepts.
    public var maxValueSize: Int { PageLayout.maxValueSize }

    /// Runs a read closure, then ends the transaction and rethrows any deferred error.
    private func run<T>(_ txn: ReadTransaction, _ body: (ReadTransaction) throws -> T) throws -> T {
        defer { txn.invalidate() }
        let result = try body(txn)
        if let error = txn.pendingError { throw error }
        return result
    }

    // MARK: Writing

    /// Runs `body` in a write transaction and commits its changes as one new version when it
    /// returns (a throw discards them). Waits while another thread writes; a nested `write`
    /// on the same thread throws `busy`. A transaction that changes nothing commits no version.
    ///
    /// Returns once the new version is durable (with `.full` durability) and visible to
    /// readers. Commits of several threads share one `fdatasync` (group commit): a thread's
    /// transaction runs while an earlier one is syncing, and the commits queued meanwhile are
    /// synced together. Versions follow the order in which transactions began; if a sync
    /// fails, every commit it covered throws and none of them becomes visible.
    @discardableResult
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        let (result, ticket, generation) = try withWriterGate(settled: false) { _, _ in
            let generation = self.generation
            let (result, ticket) = try writeLocked(body)
            return (result, ticket, generation)
        }
        if let ticket { try generation.awaitPublished(ticket) }
        waitWhilePackingFallsBehind()
        return result
    }

    // MARK: Closing

    /// Closes the database. Throws `busy` while snapshots are open; waits for a running write.
    public func close() throws {
        if writerThread.load(ordering: .relaxed) == OS.currentThread() {
            throw CowDBError.busy("close() called inside write() on the same thread")
        }
        // An automatic compaction (packing) running in the background finishes first.
        while automaticCheckRunning.load(ordering: .acquiring) { OS.sleep(microseconds: 2_000) }
        writerGate.lock()
        defer { writerGate.unlock() }
        // Commits still waiting for their sync are made durable and published first.
        try? self.generation.drainCommits()
        let generation = try state.withLock { state -> Generation? in
            guard !state.closed else { return nil }
            guard state.snapshots == 0 else { throw CowDBError.busy("\(state.snapshots) snapshot(s) still open") }
            state.closed = true
            return state.generation
        }
        guard let generation else { return }
        watcher.close()
        // A clean close leaves a durable index, so the next open verifies nothing.
        try generation.close()
        lockFile.close()
    }
}

extension VersionInfo {
    /// Facts about the version an index record names.
    init(_ record: IndexRecord, pageSize: Int) {
        let pageSize = UInt64(pageSize)
        self.init(version: record.version, timestampNanoseconds: record.timestamp, entryCount: record.totalCount,
                  fileLength: (record.commitPage + 1) * pageSize, appendedBytes: UInt64(record.appendedPages) * pageSize)
    }
}
