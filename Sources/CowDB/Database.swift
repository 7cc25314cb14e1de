import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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
/// each. All calls block the calling thread; from Swift concurrency, call them from a task
/// that may block (for example inside `Task.detached` or a dedicated executor), not from the main actor.
public final class Database: @unchecked Sendable {
    /// The database directory.
    public let path: String
    /// The options it was opened with (the page size is the database's own).
    public let options: DatabaseOptions

    let backend: any StorageBackend
    let lockFile: LockFile
    /// The data and index files of the current generation; compaction swaps them (under the
    /// writer gate and the state lock) when it switches to a new generation.
    let files: Locked<Files>
    /// Whether a compaction of this instance is running.
    let compacting = Locked(false)
    /// Commits since automatic compaction last measured the file.
    let commitsSinceCheck = Atomic<Int>(0)
    /// Whether an automatic compaction's background thread (measurement or compaction) runs.
    let automaticCheckRunning = Atomic<Bool>(false)
    let state: Locked<State>
    private let writerGate = NSLock()
    private let writerThread = Atomic<UInt>(0)

    /// The files of one generation.
    struct Files {
        var store: PageStore
        var log: RootLog
    }

    /// The current generation's data file.
    var store: PageStore { files.withLock { $0.store } }
    /// The current generation's index.
    var log: RootLog { files.withLock { $0.log } }

    /// What readers need, published by the writer after each commit.
    struct State {
        var latest: CommitPoint?
        var mapping: MappedRegion
        var closed = false
        var snapshots = 0
        var poisoned: String?
    }

    // MARK: Open and close

    /// Opens the database at `path`, creating the directory (and its missing parents) and an
    /// empty database when missing (unless `options.readOnly`). A new database syncs every
    /// directory of its path, from its own up to "/" (or the working directory for a relative
    /// path), before `init` returns: a power cut after its first commit is acknowledged cannot
    /// take the path away (directories above it that this process may not read are skipped).
    public convenience init(path: String, options: DatabaseOptions = DatabaseOptions()) throws {
        try self.init(path: path, options: options, backend: POSIXStorage(fileMode: options.fileMode))
    }

    /// Opens the database through a given storage backend (tests inject faults this way).
    public convenience init(path: String, options: DatabaseOptions, backend: any StorageBackend) throws {
        try self.init(path: path, options: options, backend: backend, target: nil)
    }

    /// What compaction creates: a new generation's files in the same directory, with the
    /// database's UUID, written by a second `Database` instance under its own lock file.
    struct GenerationTarget {
        var uuid: UUID
        var generation: UInt64
    }

    /// Opens the database, or (with `target`) creates and opens a new generation's files for
    /// compaction to write into.
    init(path: String, options: DatabaseOptions, backend: any StorageBackend, target: GenerationTarget?) throws {
        guard PageLayout.isValidPageSize(options.pageSize) else {
            throw CowDBError.invalidArgument("page size \(options.pageSize) is not a power of two in 4096...65536")
        }
        self.path = path
        self.options = options
        self.backend = backend
        let readOnly = options.readOnly
        if !readOnly, !backend.exists(path) {
            // A new database directory and its missing parents (made durable below, with the
            // new data file).
            try backend.makeDirectory(path)
        }
        guard backend.exists(path) else {
            throw CowDBError.notADatabase(path: path, reason: "no such directory")
        }
        if readOnly, !backend.exists(path + "/data"), !backend.exists(path + "/" + CurrentFile.name) {
            throw CowDBError.notADatabase(path: path, reason: "no data file")
        }
        lockFile = try LockFile(path: path + "/" + (target == nil ? "lock" : Database.compactionLockName), writable: !readOnly, fileMode: options.fileMode)
        if !readOnly {
            try lockFile.lockForWriting(timeout: options.lockTimeout)
            if let target {
                try backend.unlink(path + "/" + CurrentFile.indexName(target.generation))
                try PageStore.create(backend: backend, directory: path, pageSize: options.pageSize,
                                     name: CurrentFile.dataName(target.generation), uuid: target.uuid, generation: target.generation)
            } else if !backend.exists(path + "/data"), !backend.exists(path + "/" + CurrentFile.name) {
                // A new database: every level of its path durable before its first commit can
                // be acknowledged, whatever created them (this open, an earlier one that
                // failed after its mkdir, or the application's `mkdir -p`).
                try backend.syncEveryLevel(of: path)
                try backend.unlink(path + "/index")
                try PageStore.create(backend: backend, directory: path, pageSize: options.pageSize)
            }
        }
        let (store, log) = try Database.openGeneration(path: path, backend: backend, options: options, generation: target?.generation)
        files = Locked(Files(store: store, log: log))
        if !readOnly, target == nil { try Database.removeLeftovers(path: path, generation: store.header.generation, backend: backend) }

        // Recovery: verify the tail, trust or rebuild the index. A read-only process looks no
        // further than what the writer published: past it lies the writer's running
        // transaction, which an abort may truncate under the map.
        var filePages = try store.filePages()
        if readOnly, let published = lockFile.published(), published.commitPage < filePages {
            filePages = published.commitPage + 1
        }
        let mapping = try store.map(covering: max(filePages, 1))
        let recovered = try Recovery.run(store: store, mapping: mapping, filePages: filePages, log: log)
        log.adopt(fileCount: recovered.trustedFileRecords, pending: recovered.pending)
        if !readOnly {
            let end = ((recovered.latest?.page ?? 0) + 1) * UInt64(store.layout.pageSize)
            if try store.file.length() > end { try store.file.truncate(to: end) }
            try log.writePending()
            // The index as recovery left it must be durable before any record is flagged
            // synced (below, at close, or by a `.full` commit): recovery trusts the records in
            // front of a synced one unread, and a power cut could otherwise bring back a record
            // it dropped (of a lost commit) in front of one. Always: a process that died during
            // its open may have left that truncation unsynced, which its page cache hides.
            try log.file.sync()
            let lastSynced = try log.last()?.isSynced ?? true
            if recovered.latestIsUnsynced, let latest = recovered.latest {
                // The tail verified in the page cache, but an earlier failed fdatasync may have
                // left those pages marked clean and never written: write them again so that the
                // sync below really covers them.
                try Database.rewrite(store, pages: recovered.tailStart ... latest.page, from: mapping)
            }
            // Always synced, so that the truncation above is durable before anything is
            // appended: else a power cut can lose it while a later write (or just the new
            // length) reaches the disk, and a torn commit it cut off (a partial last page whose
            // missing tail was zeros) verifies again, a version this process replaced. The page
            // cache of a process that died during its open hides that truncation too.
            try store.file.sync()
            if recovered.latestIsUnsynced || !lastSynced {
                try Database.markLastRecordSynced(log)
            }
            // A tags file being rewritten when a writer died: the old `tags` stands.
            try backend.unlink(path + "/" + Database.tagsTemporaryName)
            // Make the entries of `data` and `index` durable: a crash right after creation
            // may have left the rename of `data.tmp` unsynced.
            try backend.syncDirectory(path)
        }
        state = Locked(State(latest: recovered.latest, mapping: mapping))
        if !readOnly {
            lockFile.publish(version: recovered.latest?.record.version ?? 0, commitPage: recovered.latest?.page ?? 0,
                             generation: store.header.generation, indexCount: log.count)
        }
    }

    /// Closes the database. Throws `busy` while snapshots are open; waits for a running write.
    public func close() throws {
        if writerThread.load(ordering: .relaxed) == UInt(pthread_self()) {
            throw CowDBError.busy("close() called inside write() on the same thread")
        }
        writerGate.lock()
        defer { writerGate.unlock() }
        let wasOpen = try state.withLock { state -> Bool in
            guard !state.closed else { return false }
            guard state.snapshots == 0 else { throw CowDBError.busy("\(state.snapshots) snapshot(s) still open") }
            state.closed = true
            return true
        }
        guard wasOpen else { return }
        if !options.readOnly {
            if !(try log.last()?.isSynced ?? true) {
                try store.file.sync()
                try Database.markLastRecordSynced(log)
            }
            // A clean close leaves a durable index, so the next open verifies nothing.
            try log.file.sync()
            try backend.syncDirectory(path)
        }
        store.file.close()
        log.file.close()
        lockFile.close()
    }

    /// Writes pages of the data file again with the bytes they hold (from the map).
    private static func rewrite(_ store: PageStore, pages: ClosedRange<PageNumber>, from mapping: MappedRegion) throws {
        let pageSize = UInt64(store.layout.pageSize)
        var page = pages.lowerBound
        while page <= pages.upperBound {
            let count = min(256, pages.upperBound - page + 1)
            try store.file.write(UnsafeRawBufferPointer(start: mapping.base + Int(page * pageSize), count: Int(count * pageSize)),
                                 at: page * pageSize)
            page += count
        }
    }

    /// After an `fdatasync` covering everything written, flags the last index record synced
    /// (so the next open verifies nothing before it).
    static func markLastRecordSynced(_ log: RootLog) throws {
        guard log.count > 0, log.pending.isEmpty, var last = try log.last(), !last.isSynced else { return }
        last.flags |= IndexRecord.syncedFlag
        try log.rewrite(log.count - 1, last)
    }

    // MARK: Reading

    /// The newest committed version (0 for an empty database).
    public var latestVersion: UInt64 {
        (try? currentSource().version) ?? state.withLock { $0.latest?.record.version ?? 0 }
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
        return try state.withLock { state in
            guard !state.closed else { throw CowDBError.closed }
            return try (0 ..< log.count).map { try versionInfo(log.record($0)) }
        }
    }

    /// Facts about one version.
    func versionInfo(_ record: IndexRecord) -> VersionInfo {
        let pageSize = UInt64(store.layout.pageSize)
        return VersionInfo(version: record.version, timestampNanoseconds: record.timestamp, entryCount: record.totalCount,
                           fileLength: (record.commitPage + 1) * pageSize, appendedBytes: UInt64(record.appendedPages) * pageSize)
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

    /// The source for the latest version; a read-only process first picks up what a writer
    /// in another process published (one seqlock read of the shared page, no system call).
    func currentSource() throws -> ReadSource {
        if options.readOnly { try refreshFromWriter() }
        return try state.withLock { state in
            guard !state.closed else { throw CowDBError.closed }
            return makeSource(state.latest, mapping: state.mapping)
        }
    }

    /// The source for a given version.
    func source(at version: UInt64) throws -> ReadSource {
        if options.readOnly { try refreshFromWriter() }
        return try state.withLock { state in
            guard !state.closed else { throw CowDBError.closed }
            if version == 0 { return makeSource(nil, mapping: state.mapping) }
            guard let latest = state.latest, version <= latest.record.version, let position = try log.position(of: version) else {
                throw CowDBError.versionNotFound(version)
            }
            return makeSource(try commit(for: try log.record(position), latest: latest, mapping: state.mapping), mapping: state.mapping)
        }
    }

    /// The source for the last version at or before `date`.
    func source(asOf date: Date) throws -> ReadSource {
        if options.readOnly { try refreshFromWriter() }
        let nanoseconds = nanosecondsSince1970(date)
        return try state.withLock { state in
            guard !state.closed else { throw CowDBError.closed }
            guard let latest = state.latest, let position = try log.position(asOf: nanoseconds) else {
                throw CowDBError.noVersionAsOf(nanosecondsSince1970: nanoseconds)
            }
            return makeSource(try commit(for: try log.record(position), latest: latest, mapping: state.mapping), mapping: state.mapping)
        }
    }

    /// Reads and checks the commit record an index record names.
    func commit(for record: IndexRecord, latest: CommitPoint, mapping: MappedRegion) throws -> CommitPoint {
        guard record.commitPage <= latest.page else {
            throw CowDBError.corrupt(page: record.commitPage, offset: nil, reason: "index names a commit record past the latest commit")
        }
        if record.commitPage == latest.page { return latest }
        guard let decoded = Recovery.verifiedCommit(base: mapping.base, pageSize: store.layout.pageSize, page: record.commitPage),
              decoded.version == record.version
        else {
            throw CowDBError.corrupt(page: record.commitPage, offset: nil, reason: "commit record of version \(record.version) is damaged or does not match the index")
        }
        return CommitPoint(record: decoded, page: record.commitPage)
    }

    /// A source over `mapping` bounded by `commit`.
    private func makeSource(_ commit: CommitPoint?, mapping: MappedRegion) -> ReadSource {
        let limit = commit?.page ?? 1
        return ReadSource(mapping: mapping, commit: commit,
                          pages: store.reader(mapping, limit: max(limit, 1), everyRead: options.checksumVerification == .everyRead),
                          verifiedPages: store.verifiedPages)
    }

    /// Read-only processes: adopt the latest commit a writer published, if newer.
    private func refreshFromWriter() throws {
        guard !state.withLock({ $0.closed }) else { throw CowDBError.closed }
        guard let published = lockFile.published() else { return }
        if published.generation != store.header.generation, published.generation > 0 {
            // The writer compacted the database: move to the generation it switched to.
            try adoptGeneration(published.generation)
        }
        let known = state.withLock { $0.latest?.record.version ?? 0 }
        guard published.version > known else { return }
        // The shared page is only a hint: check it against the file before using it.
        guard published.commitPage >= 1, published.commitPage < (try store.filePages()) else { return }
        let needed = published.commitPage + 1
        var mapping = state.withLock { $0.mapping }
        if Int(needed) * store.layout.pageSize > mapping.reservedLength { mapping = try store.map(covering: needed) }
        guard let record = Recovery.verifiedCommit(base: mapping.base, pageSize: store.layout.pageSize, page: published.commitPage),
              record.version == published.version
        else { return }
        try state.withLock { state in
            guard (state.latest?.record.version ?? 0) < record.version else { return }
            try log.refresh(toCount: published.indexCount)
            // Versions the index file could not supply (it was missing, or a write of it
            // failed): walk the commit chain back from the published commit.
            let lastLogged = try log.last()?.version ?? 0
            var missing: [IndexRecord] = []
            var point = CommitPoint(record: record, page: published.commitPage)
            while point.record.version > lastLogged {
                missing.append(IndexRecord(commit: point.record, page: point.page, synced: false))
                let previous = point.record.previousCommit
                guard previous != 0 else { break }
                guard let earlier = Recovery.verifiedCommit(base: mapping.base, pageSize: store.layout.pageSize, page: previous),
                      point.record.follows(earlier.version)
                else {
                    throw CowDBError.corrupt(page: previous, offset: nil, reason: "commit chain broken below version \(point.record.version)")
                }
                point = CommitPoint(record: earlier, page: previous)
            }
            log.adopt(fileCount: log.fileCount, pending: log.pending + missing.reversed())
            state.latest = CommitPoint(record: record, page: published.commitPage)
            state.mapping = mapping
        }
    }

    // MARK: Writing

    /// Runs `body` in a write transaction and commits its changes as one new version when it
    /// returns (a throw discards them). Waits while another thread writes; a nested `write`
    /// on the same thread traps. A transaction that changes nothing commits no version.
    @discardableResult
    public func write<T>(_ body: (WriteTransaction) throws -> T) throws -> T {
        try withWriterGate { _, _ in try writeLocked(body) }
    }

    /// A write transaction committed as a given version at a given time (compaction's).
    func write<T>(forced: WriteTransaction.ForcedCommit, _ body: (WriteTransaction) throws -> T) throws -> T {
        try withWriterGate { _, _ in try writeLocked(forced: forced, body) }
    }

    /// The body of `write`, under the writer gate.
    private func writeLocked<T>(forced: WriteTransaction.ForcedCommit? = nil, _ body: (WriteTransaction) throws -> T) throws -> T {
        let (latest, mapping) = try state.withLock { state -> (CommitPoint?, MappedRegion) in
            guard !state.closed else { throw CowDBError.closed }
            if let poisoned = state.poisoned { throw CowDBError.writerPoisoned(poisoned) }
            return (state.latest, state.mapping)
        }
        let regionStart = (latest?.page ?? 0) + 1
        let appender = PageAppender(store: store, regionStart: regionStart, mapping: mapping, verifyEveryRead: options.checksumVerification == .everyRead)
        let source = makeSource(latest, mapping: mapping)
        let txn = try WriteTransaction(source: source, appender: appender, options: options)
        let result: T
        let point: CommitPoint
        do {
            defer { txn.invalidate() }
            result = try body(txn)
            if let error = txn.pendingError { throw error }
            guard txn.hasChanges || forced != nil else {
                try discardTail(regionStart)
                return result
            }
            if let forced {
                precondition(forced.version > (latest?.record.version ?? 0) && forced.timestamp > (latest?.record.timestamp ?? 0),
                             "CowDB: a forced commit must come after the latest")
            }
            let now = nanosecondsSince1970(Date())
            point = try txn.writeCommit(timestamp: max(now, (latest?.record.timestamp ?? 0) + 1), forced: forced)
        } catch {
            try? discardTail(regionStart)
            throw error
        }
        try publish(point, mapping: appender.currentMapping)
        if forced == nil { considerAutomaticCompaction() }
        return result
    }

    /// Steps 5–7 of a commit whose pages and record are written: the durability point, the
    /// index record, publication to readers. Under the writer gate.
    func publish(_ point: CommitPoint, mapping: MappedRegion) throws {
        // 5. The durability point: one fdatasync makes the pages and the commit record durable.
        let synced = options.durability == .full
        if synced {
            do { try store.file.sync() } catch {
                // Linux may have dropped the dirty pages already: never trust this file
                // handle for writing again (readers continue at the previous version).
                state.withLock { $0.poisoned = "\(error)" }
                throw error
            }
        }
        // 6. The index record (no sync of its own) and 7. publication to readers.
        state.withLock { state in
            // Under the state lock: readers look up the index under it too, and must never
            // find a record for a version that is not yet the latest.
            log.append(IndexRecord(commit: point.record, page: point.page, synced: synced))
            state.latest = point
            state.mapping = mapping
        }
        lockFile.publish(version: point.record.version, commitPage: point.page,
                         generation: store.header.generation, indexCount: log.count)
    }

    /// Runs `body` under the writer gate with the latest commit and mapping (for commits made
    /// outside a write transaction, such as a rollback). Throws like `write` would.
    func withWriterGate<T>(_ body: (CommitPoint?, MappedRegion) throws -> T) throws -> T {
        let me = UInt(pthread_self())
        precondition(writerThread.load(ordering: .relaxed) != me, "CowDB: nested write on the same thread")
        if options.readOnly { throw CowDBError.readOnly }
        writerGate.lock()
        writerThread.store(me, ordering: .relaxed)
        defer {
            writerThread.store(0, ordering: .relaxed)
            writerGate.unlock()
        }
        let (latest, mapping) = try state.withLock { state -> (CommitPoint?, MappedRegion) in
            guard !state.closed else { throw CowDBError.closed }
            if let poisoned = state.poisoned { throw CowDBError.writerPoisoned(poisoned) }
            return (state.latest, state.mapping)
        }
        return try body(latest, mapping)
    }

    /// Cuts off whatever an aborted transaction appended (never below the last commit).
    func discardTail(_ regionStart: PageNumber) throws {
        let end = regionStart * UInt64(store.layout.pageSize)
        if try store.file.length() > end { try store.file.truncate(to: end) }
    }
}
