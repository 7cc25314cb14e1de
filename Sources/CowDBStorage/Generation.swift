import CowDBFormat

// A generation of a database: its data file (`data`, or `data.G`) and its index, through its
// whole life:
//
//   open (`GenerationFiles`) → recover (`Generation+Recover.swift`) →
//   commits: append → sync → publish (`Generation+Commit.swift`) → close
//
// One generation is current at a time; compaction writes the next one and switches to it.
//
// The head (the latest commit and the map that covers it, what a new reader starts from) has
// its own lock, taken for a few loads and stores, never across I/O (but for a read-only
// process adopting a writer's newer commit, Generation+Follow.swift). A commit writes its index
// record first, then counts it and moves the head under that lock together, so whoever takes a
// view (head and index) under it never finds an index record for a version that is not yet the
// latest. The `Database`'s
// state lock (closed, snapshots, which generation is current) is a different one: a reader takes
// it, then this one, never the other way round.

/// Where a generation's files live and how they are opened.
package struct GenerationPlace: Sendable {
    package var backend: any StorageBackend
    /// The database directory.
    package var directory: String
    /// A read-only process changes nothing (no recovery writes, no lock file page).
    package var readOnly: Bool
    /// Address space to reserve for the data file's map (`DatabaseOptions.mapReservation`).
    package var mapReservation: Int
    /// Whether the writer keeps a reserve of zeros past the last commit, so that durable
    /// commits overwrite allocated blocks instead of growing the file (Generation+Reserve.swift).
    package var keepsReserve = false

    /// Memberwise.
    package init(backend: any StorageBackend, directory: String, readOnly: Bool, mapReservation: Int) {
        self.backend = backend
        self.directory = directory
        self.readOnly = readOnly
        self.mapReservation = mapReservation
    }
}

/// One generation's data file and index, opened, recovered, committed to and closed.
package final class Generation: @unchecked Sendable {
    package let place: GenerationPlace
    package let store: PageStore
    package let log: RootLog
    /// Where a writer announces its commits to other processes (nil: nobody is told).
    let lockFile: LockFile?
    /// What readers start from; the index is guarded by the same lock.
    let head: Locked<Head>
    /// Commits appended but not yet published, and the writer's tip (Generation+Publish.swift).
    let queue: CommitQueue

    /// The latest published commit (durable, if it asked to be), the map that covers it, and
    /// whether the writer may write.
    struct Head {
        var latest: CommitPoint?
        var mapping: MappedRegion
        /// Set when writing is no longer safe (a failed `fdatasync`, a failed switch of
        /// generations): every later commit throws `writerPoisoned` with this reason.
        var poisoned: String?
        /// The versions of the generation's pack commit, if it has one.
        var packed: PackedVersions?
    }

    /// Takes over recovered files.
    init(_ files: GenerationFiles, head: Head, lockFile: LockFile?) {
        place = files.place
        store = files.store
        log = files.log
        self.lockFile = lockFile
        self.head = Locked(head)
        queue = CommitQueue(tip: head.latest, mapping: head.mapping)
    }

    /// Opens generation `number` (default: the one `CURRENT` names) and recovers it.
    package static func open(_ place: GenerationPlace, number: UInt64?, lockFile: LockFile?) throws -> Generation {
        try Generation(recovering: try GenerationFiles.open(place, number: number), lockFile: lockFile)
    }

    /// The generation number (from the data file's header).
    package var number: UInt64 { store.header.generation }

    /// The latest published commit and the map that covers it (a reader's starting point).
    package func current() -> (latest: CommitPoint?, mapping: MappedRegion) {
        head.withLock { ($0.latest, $0.mapping) }
    }

    /// The head and the index at one moment, to search without a lock.
    package func view() -> GenerationView {
        head.withLock { GenerationView(latest: $0.latest, mapping: $0.mapping, index: log.view(packed: $0.packed), pageSize: store.layout.pageSize) }
    }

    /// Stops every later commit (see `Head.poisoned`).
    package func poison(_ reason: String) { head.withLock { $0.poisoned = reason } }

    /// Tells other processes about the latest commit (writer only).
    func announce() {
        guard !place.readOnly, let lockFile else { return }
        let (latest, count) = head.withLock { ($0.latest, log.count) }
        lockFile.publish(version: latest?.record.version ?? 0, commitPage: latest?.page ?? 0, generation: number, indexCount: count)
    }

    /// After an `fdatasync` covering everything written, flags the last index record synced
    /// (so the next open verifies nothing before it).
    package func markLastRecordSynced() throws {
        guard log.count > 0, log.pending.isEmpty, var last = try log.last(), !last.isSynced else { return }
        last.flags |= IndexRecord.syncedFlag
        try log.rewrite(log.count - 1, last)
    }

    /// Makes every commit written so far durable (`fdatasync` of the data file), as a tag
    /// naming a version written with `.none` durability needs. A failure poisons the writer,
    /// as at a commit's durability point: the kernel may have dropped the dirty pages.
    package func syncData() throws {
        do { try store.file.sync() } catch {
            poison("\(error)")
            throw error
        }
    }

    /// Makes every commit durable and flags the last index record so (compaction's new
    /// generation, before `CURRENT` names it).
    package func makeDurable() throws {
        try store.file.sync()
        try markLastRecordSynced()
    }

    /// Closes the files. A writer first makes the last commit and the index durable, so the
    /// next open verifies nothing, and syncs the directory.
    /// A writer's close also cuts the reserve off (Generation+Reserve.swift): a closed database
    /// ends with its last commit (unsynced: zeros that come back after a power cut are harmless).
    package func close() throws {
        if !place.readOnly {
            try trimReserve()
            if !(try log.last()?.isSynced ?? true) { try makeDurable() }
            try log.file.sync()
            try place.backend.syncDirectory(place.directory)
        }
        closeFiles()
    }

    /// Closes the files without syncing anything.
    package func closeFiles() {
        store.file.close()
        log.file.close()
    }
}

/// A generation's head and index at one moment.
package struct GenerationView: @unchecked Sendable {
    /// The latest commit (nil: version 0).
    package let latest: CommitPoint?
    /// The map that covers it.
    package let mapping: MappedRegion
    /// The index, as far as `latest`.
    package let index: IndexView
    let pageSize: Int

    /// Reads and checks the commit record an index record names.
    package func commit(for record: IndexRecord) throws -> CommitPoint {
        guard let latest, record.commitPage <= latest.page else {
            throw CowDBError.corrupt(page: record.commitPage, offset: nil, reason: "index names a commit record past the latest commit")
        }
        if record.commitPage == latest.page, !record.isPacked, latest.record.pack == nil { return latest }
        guard let decoded = Recovery.verifiedCommit(base: mapping.base, pageSize: pageSize, page: record.commitPage),
              record.isPacked
                ? decoded.pack.map({ record.version >= $0.firstVersion && record.version <= decoded.version }) ?? false
                : decoded.version == record.version && decoded.pack == nil // a pack's record is flagged
        else {
            throw CowDBError.corrupt(page: record.commitPage, offset: nil, reason: "commit record of version \(record.version) is damaged or does not match the index")
        }
        return CommitPoint(record: decoded, page: record.commitPage)
    }
}
