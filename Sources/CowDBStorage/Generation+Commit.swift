import CowDBFormat

// The commit: one fixed sequence of steps (bbolt's `Tx.Commit` is the model), the only way a
// version is made — by `write`, `rollback`, compaction's carried-over versions and the tool's
// load alike. The tree layer does step 1 (it hands back the roots and counts); the rest is
// Storage's. Every failure undoes what it did:
//
//  - before the durability point (steps 1–4), the data file is cut back to the region's
//    first page: nothing the commit appended survives, and no reader saw any of it;
//  - at the durability point (step 5), a failed `fdatasync` poisons the writer: Linux may have
//    dropped the dirty pages and cleared the error, so the file is not trusted for writing
//    again, and readers stay on the previous version (the next open decides from the disk);
//  - after it, nothing can fail: a failed index write leaves the record pending in memory
//    (`RootLog.write`), and publication only stores values.
//
// Steps 1–4 run under the writer gate; steps 5–8 may run after it, for a group of commits at
// once (group commit, Generation+Publish.swift). Nothing becomes visible to readers before
// the durability point.

/// The roots and counts of a new version, as the tree layer wrote them.
package struct CommitRoots: Sendable {
    package var catalogRoot: PageNumber
    package var defaultRoot: PageNumber
    package var defaultCount: UInt64
    package var totalCount: UInt64
    /// A pack commit's versions (its history tree is `catalogRoot`): the page of their table
    /// and the table's entries, the last of which is the commit's own version.
    package var pack: (versionTable: PageNumber, entries: [VersionTable.Entry])?

    /// Memberwise.
    package init(catalogRoot: PageNumber, defaultRoot: PageNumber, defaultCount: UInt64, totalCount: UInt64,
                 pack: (versionTable: PageNumber, entries: [VersionTable.Entry])? = nil) {
        self.catalogRoot = catalogRoot
        self.defaultRoot = defaultRoot
        self.defaultCount = defaultCount
        self.totalCount = totalCount
        self.pack = pack
    }

    /// The roots of an existing commit (nil: the empty database), which a rollback repeats.
    package init(of record: CommitRecord?) {
        self.init(catalogRoot: record?.catalogRoot ?? 0, defaultRoot: record?.defaultRoot ?? 0,
                  defaultCount: record?.defaultCount ?? 0, totalCount: record?.totalCount ?? 0)
    }
}

/// How a commit is numbered and flagged.
package struct CommitStamp: Sendable {
    /// The version and time to commit as (compaction carries versions over under their own
    /// number and time, flagged `compacted`); nil: the next version, now.
    package var carried: (version: UInt64, timestamp: UInt64)?
    /// The version whose content the commit restores (a rollback, or a carried-over one).
    package var rolledBackFrom: UInt64?

    /// Memberwise (both nil: the next version, now, an ordinary commit).
    package init(carried: (version: UInt64, timestamp: UInt64)? = nil, rolledBackFrom: UInt64? = nil) {
        self.carried = carried
        self.rolledBackFrom = rolledBackFrom
    }

    /// The next version, now.
    package static let next = CommitStamp()

    /// A rollback to `version`: the next version, now, repeating `version`'s roots.
    package static func rollback(to version: UInt64) -> CommitStamp { CommitStamp(rolledBackFrom: version) }
}

/// A commit in progress: where its region starts and what it follows.
package struct CommitRegion {
    /// The commit it follows (nil: the first).
    package let base: CommitPoint?
    /// Where the commit's pages go, from the page after `base`.
    package let appender: PageAppender
}

extension Generation {
    /// The latest commit and its map, for the writer; throws `writerPoisoned` when writing
    /// is not safe.
    /// That is the newest appended commit, which may run ahead of the published head by the
    /// commits waiting for a sync (Generation+Publish.swift).
    package func writerHead() throws -> (latest: CommitPoint?, mapping: MappedRegion) {
        if let poisoned = head.withLock({ $0.poisoned }) { throw CowDBError.writerPoisoned(poisoned) }
        return queue.withLock { ($0.tip, $0.tipMapping) }
    }

    /// Starts a commit after the latest one, its appender buffering `bufferBytes` between
    /// writes (0: the default); throws `writerPoisoned` when writing is not safe. Tops the
    /// reserve up first, if it keeps one and it runs low (Generation+Reserve.swift).
    package func beginCommit(verifyEveryRead: Bool, bufferBytes: Int = 0) throws -> CommitRegion {
        _ = try writerHead()
        try topUpReserve()
        let (latest, mapping) = try writerHead()
        let appender = PageAppender(store: store, regionStart: (latest?.page ?? 0) + 1, mapping: mapping,
                                    verifyEveryRead: verifyEveryRead, bufferBytes: bufferBytes)
        return CommitRegion(base: latest, appender: appender)
    }

    /// Abandons a commit before its durability point: undoes whatever it appended (never
    /// below the last commit). What lies in the reserve is overwritten with zeros (the reserve
    /// stays zeros) and what lies past it is cut off; if that fails, everything from the
    /// commit's first page is cut off, the reserve with it. If that fails too, the writer is
    /// poisoned: the abandoned pages, a commit record among them, could otherwise verify at the
    /// next open as a version whose `write` threw.
    package func abandon(_ region: CommitRegion) throws {
        let pageSize = UInt64(store.layout.pageSize)
        let start = region.appender.regionStart * pageSize
        let end = max(region.appender.tail, region.appender.attemptedEnd) * pageSize
        guard end > start else { return } // nothing written
        let reserveEnd = queue.withLock { $0.fileEnd }
        do {
            if min(end, reserveEnd) > start { try writeZeros(from: start, to: min(end, reserveEnd)) }
            if try store.file.length() > max(start, reserveEnd) { try store.file.truncate(to: max(start, reserveEnd)) }
        } catch {
            do {
                try store.file.truncate(to: start)
                queue.withLock { $0.fileEnd = start }
            } catch {
                poison("could not undo an abandoned commit: \(error)")
                throw error
            }
        }
    }

    /// Appends the region as one new version: steps 1–4 above, in order. `writeTrees` is step
    /// 1 (the tree layer's); `now` is the wall clock (ns since 1970); `durable` makes step 5
    /// an `fdatasync` (`.full` durability), else it is skipped. Returns the queued commit: the
    /// caller passes it to `awaitPublished` (steps 5–8), after leaving the writer gate if it
    /// wants its sync shared with the commits queued meanwhile (group commit).
    package func commit(_ region: CommitRegion, stamp: CommitStamp, now: UInt64, durable: Bool,
                        writeTrees: () throws -> CommitRoots) throws -> CommitTicket {
        let appender = region.appender
        let point: CommitPoint
        let roots: CommitRoots
        do {
            // 1. The tree layer rebalances and writes every changed node (each changed named
            //    keyspace, the default keyspace, the catalog) and hands back the roots.
            roots = try writeTrees()
            // 2. Every run of the region is checksummed as it is appended (`PageAppender`); what
            //    is still buffered reaches the file with the record, in one write.
            // 3. The commit record: the next version (or the carried one), the roots, and the
            //    region checksum binding it to exactly the runs this commit appended.
            let record = commitRecord(region, stamp: stamp, now: now, roots: roots)
            // 4. Append it and flush; map the new pages should they reach past the reservation.
            let page = try appender.append(runLength: 1) { _ = record.encode(into: $0, pageNumber: appender.tail) }
            try appender.flush()
            _ = try appender.reader()
            point = CommitPoint(record: record, page: page)
        } catch {
            // Undo steps 1–4: no page of this commit stays in the file.
            try? abandon(region)
            throw error
        }
        // 5–8 (durability, the index record, publication): Generation+Publish.swift, once the
        // caller has left the writer gate and calls `awaitPublished`.
        return enqueue(point, mapping: appender.currentMapping, durable: durable)
    }

    /// Step 3: the commit record of `region` with `roots`.
    private func commitRecord(_ region: CommitRegion, stamp: CommitStamp, now: UInt64, roots: CommitRoots) -> CommitRecord {
        let previous = region.base?.record
        if let carried = stamp.carried {
            precondition(carried.version > (previous?.version ?? 0) && carried.timestamp > (previous?.timestamp ?? 0),
                         "CowDB: a forced commit must come after the latest")
        }
        var record = CommitRecord(
            version: stamp.carried?.version ?? (previous?.version ?? 0) + 1,
            timestamp: stamp.carried?.timestamp ?? max(now, (previous?.timestamp ?? 0) + 1),
            previousCommit: region.base?.page ?? 0, firstPage: region.appender.regionStart,
            catalogRoot: roots.catalogRoot, defaultRoot: roots.defaultRoot, defaultCount: roots.defaultCount,
            totalCount: roots.totalCount, regionChecksum: region.appender.regionChecksum(),
            rolledBackFrom: stamp.rolledBackFrom, compacted: stamp.carried != nil)
        if let pack = roots.pack {
            precondition(region.base == nil && stamp.carried != nil && stamp.rolledBackFrom == nil
                         && pack.entries.last?.version == record.version && pack.entries.last?.timestamp == record.timestamp,
                         "CowDB: a pack commit is its file's first, carried, and ends at its own version")
            record.pack = CommitRecord.Pack(firstVersion: pack.entries[0].version, versionCount: UInt64(pack.entries.count),
                                            versionTable: pack.versionTable)
        }
        return record
    }
}
