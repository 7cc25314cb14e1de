import CowDBFormat

// The versions a generation's pack commit holds (FORMAT.md, "Index file"). The index file has
// one record for the pack commit, as for any commit: that of its last version. The versions
// before it are listed by the pack's version table, in the data file, which the generation
// checks once at open (`load`), or takes as written when it commits the pack, and then reads
// in the map (24 bytes a version, no copy in memory); the index view serves them as records of
// their own, so that every version is found by position or number the same way (`IndexView`).

/// The versions of a generation's pack commit, read from its version table in the map (no
/// copy: a million packed versions cost no memory of their own).
package struct PackedVersions: @unchecked Sendable {
    /// The pack commit.
    package let pack: CommitPoint
    /// A map of the data file that covers the version table (kept alive with it).
    let mapping: MappedRegion
    /// Where the table's entries begin in the file, and how many there are (the last is the
    /// pack commit's own version).
    let tableOffset: Int
    package let count: Int

    /// The versions of the pack commit `pack`, whose table `mapping` covers; the table must
    /// have been checked (`load`), or written by this process.
    package init(pack: CommitPoint, mapping: MappedRegion, pageSize: Int) {
        self.pack = pack
        self.mapping = mapping
        tableOffset = Int(pack.record.pack?.versionTable ?? 0) * pageSize + PageHeader.size
        count = Int(pack.record.pack?.versionCount ?? 1)
    }

    /// Records the index view serves before the file's: every packed version but the last,
    /// whose record is the file's first.
    package var extra: Int { count - 1 }

    /// The index record of packed version `i` (0 ..< extra).
    package func record(_ i: Int) -> IndexRecord {
        precondition(i >= 0 && i < count)
        let entry = UnsafeRawBufferPointer(start: mapping.base + tableOffset + i * VersionTable.entrySize, count: VersionTable.entrySize)
        return IndexRecord(packed: VersionTable.Entry(version: entry.u64(0), timestamp: entry.u64(8), totalCount: entry.u64(16)),
                           pack: pack.record, page: pack.page, synced: true)
    }

    /// The packed versions the index's first record `first` stands for: those of its pack
    /// commit when it is flagged packed (`load`), else none — and then the commit it names must
    /// not be a pack (a record whose flag was lost would serve the pack's history tree as if it
    /// were a version's trees, and hide the versions before it): `corrupt`.
    package static func forFirstRecord(_ first: IndexRecord, mapping: MappedRegion, pageSize: Int) throws -> PackedVersions? {
        if first.isPacked { return try load(first: first, mapping: mapping, pageSize: pageSize) }
        if let commit = Recovery.verifiedCommit(base: mapping.base, pageSize: pageSize, page: first.commitPage), commit.pack != nil {
            throw CowDBError.corrupt(page: first.commitPage, offset: nil,
                                     reason: "the index's first record (version \(first.version)) names a pack commit but is not flagged packed")
        }
        return nil
    }

    /// Reads and checks the version table of the pack commit the index record `first` (the
    /// index's first, flagged packed) names, in the data file `mapping` maps.
    package static func load(first: IndexRecord, mapping: MappedRegion, pageSize: Int) throws -> PackedVersions {
        guard let commit = Recovery.verifiedCommit(base: mapping.base, pageSize: pageSize, page: first.commitPage), commit.pack != nil,
              commit.version == first.version else {
            throw CowDBError.corrupt(page: first.commitPage, offset: nil, reason: "the index's first record names no pack commit of version \(first.version)")
        }
        _ = try Recovery.versionTable(of: commit, page: first.commitPage, base: mapping.base, pageSize: pageSize)
        return PackedVersions(pack: CommitPoint(record: commit, page: first.commitPage), mapping: mapping, pageSize: pageSize)
    }
}
