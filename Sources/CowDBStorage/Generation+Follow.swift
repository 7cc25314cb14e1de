import CowDBFormat

// A read-only process follows the writer of another process through the lock file's shared
// page: when it announces a newer commit of this generation, the commit record is checked in
// the data file (the page is only a hint) and adopted with the index records since.

extension Generation {
    /// Adopts the latest commit a writer announced (`published`, of this generation), if newer.
    package func follow(_ published: (version: UInt64, commitPage: UInt64, generation: UInt64, indexCount: Int)) throws {
        let (known, current) = head.withLock { ($0.latest?.record.version ?? 0, $0.mapping) }
        guard published.version > known else { return }
        guard published.commitPage >= 1, published.commitPage < (try store.filePages()) else { return }
        var mapping = current
        let needed = published.commitPage + 1
        if Int(needed) * store.layout.pageSize > mapping.reservedLength { mapping = try store.map(covering: needed) }
        guard let record = Recovery.verifiedCommit(base: mapping.base, pageSize: store.layout.pageSize, page: published.commitPage),
              record.version == published.version
        else { return }
        let point = CommitPoint(record: record, page: published.commitPage)
        try head.withLock { head in
            guard (head.latest?.record.version ?? 0) < record.version else { return }
            try log.refresh(toCount: published.indexCount)
            let missing = try unindexed(from: point, in: mapping)
            log.adopt(fileCount: log.fileCount, pending: log.pending + missing)
            head.latest = point
            head.mapping = mapping
        }
    }

    /// Versions the index file could not supply (it was missing, or a write of it failed):
    /// the commit chain walked back from `point` to the last indexed version, oldest first.
    private func unindexed(from point: CommitPoint, in mapping: MappedRegion) throws -> [IndexRecord] {
        let lastLogged = try log.last()?.version ?? 0
        var missing: [IndexRecord] = []
        var point = point
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
        return missing.reversed()
    }
}
