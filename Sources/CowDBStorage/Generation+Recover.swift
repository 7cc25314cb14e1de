import CowDBFormat

// Recovery at open, the policy around `Recovery.run` (which finds the newest intact commit):
// a read-only process looks no further than what the writer published and changes nothing; a
// writer cuts the torn tail, writes the rebuilt index records, syncs the index, rewrites an
// unsure tail, syncs the data file, flags the last record synced and syncs the directory
// (`settle`). docs/DESIGN.md, "Recovery: verify only the tail", says why each step is there.

extension Generation {
    /// Recovers opened files and takes them over (closing them if recovery fails). A writer
    /// then announces the latest commit in `lockFile`.
    package convenience init(recovering files: GenerationFiles, lockFile: LockFile?) throws {
        do {
            let (recovered, mapping) = try Generation.recover(files, lockFile: lockFile)
            let packed = try files.log.count > 0 ? files.log.record(0) : nil
            let versions = try packed.flatMap { try PackedVersions.forFirstRecord($0, mapping: mapping, pageSize: files.store.layout.pageSize) }
            self.init(files, head: Head(latest: recovered.latest, mapping: mapping, packed: versions), lockFile: lockFile)
            if !files.place.readOnly { try settle(recovered, mapping) }
        } catch {
            files.store.file.close()
            files.log.file.close()
            throw error
        }
        announce()
    }

    /// Verifies the tail and trusts or rebuilds the index.
    private static func recover(_ files: GenerationFiles, lockFile: LockFile?) throws -> (RecoveryResult, MappedRegion) {
        var filePages = try files.store.filePages()
        // A read-only process looks no further than what the writer published: past it lies
        // the writer's running transaction, which an abort may truncate under the map.
        if files.place.readOnly, let published = lockFile?.published(), published.generation == files.number,
           published.commitPage < filePages {
            filePages = published.commitPage + 1
        }
        let mapping = try files.store.map(covering: max(filePages, 1))
        let recovered = try Recovery.run(store: files.store, mapping: mapping, filePages: filePages, log: files.log)
        files.log.adopt(fileCount: recovered.trustedFileRecords, pending: recovered.pending)
        return (recovered, mapping)
    }

    /// The writer's part of recovery: leaves the files as recovery found them, durably.
    private func settle(_ recovered: RecoveryResult, _ mapping: MappedRegion) throws {
        let end = ((recovered.latest?.page ?? 0) + 1) * UInt64(store.layout.pageSize)
        let length = try store.file.length()
        // Past the last commit: a reserve of zeros is kept (Generation+Reserve.swift); anything
        // else (a torn or lost commit, a reserve a writer keeping none does not want) is cut off.
        let keepsReserve = try length > end && place.keepsReserve
            && Generation.nonZeroPages(of: store.file, from: end, to: length, pageSize: store.layout.pageSize) == nil
        if length > end, !keepsReserve { try store.file.truncate(to: end) }
        // The zeros were read from the page cache, which may hold pages a failed sync marked
        // clean over different bytes on disk (an undone commit's record): written again, the
        // sync below makes the disk agree.
        if keepsReserve { try writeZeros(from: end, to: length) }
        let fileEnd = keepsReserve ? length : end
        queue.withLock { $0.fileEnd = fileEnd }
        try log.writePending()
        // The index as recovery left it must be durable before any record is flagged synced
        // (below, at close, or by a `.full` commit): recovery trusts the records in front of
        // a synced one unread, and a power cut could otherwise bring back a record it dropped
        // (of a lost commit) in front of one. Always: a process that died during its open may
        // have left that truncation unsynced, which its page cache hides.
        try log.file.sync()
        let lastSynced = try log.last()?.isSynced ?? true
        if recovered.latestIsUnsynced, let latest = recovered.latest {
            // The tail verified in the page cache, but an earlier failed fdatasync may have
            // left those pages marked clean and never written: write them again so that the
            // sync below really covers them.
            try rewrite(pages: recovered.tailStart ... latest.page, from: mapping)
        }
        // Always synced, so that the truncation above is durable before anything is appended:
        // else a power cut can lose it while a later write (or just the new length) reaches
        // the disk, and a torn commit it cut off (a partial last page whose missing tail was
        // zeros) verifies again, a version this process replaced. The page cache of a process
        // that died during its open hides that truncation too.
        try store.file.sync()
        if recovered.latestIsUnsynced || !lastSynced { try markLastRecordSynced() }
        // The entries of the data file and the index durable: a crash right after creation
        // may have left the rename of `data.tmp` unsynced.
        try place.backend.syncDirectory(place.directory)
    }

    /// Writes pages of the data file again with the bytes they hold (from the map).
    private func rewrite(pages: ClosedRange<PageNumber>, from mapping: MappedRegion) throws {
        let pageSize = UInt64(store.layout.pageSize)
        var page = pages.lowerBound
        while page <= pages.upperBound {
            let count = min(256, pages.upperBound - page + 1)
            try store.file.write(UnsafeRawBufferPointer(start: mapping.base + Int(page * pageSize), count: Int(count * pageSize)),
                                 at: page * pageSize)
            page += count
        }
    }
}
