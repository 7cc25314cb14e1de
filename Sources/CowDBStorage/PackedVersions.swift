import CowDBFormat

// The versions a generation's pack commit holds (FORMAT.md, "Index file"). The index file has
// one record for the pack commit, as for any commit: that of its last version. The versions
// before it are listed by the pack's version table, in the data file, which the generation
// reads and checks once at open (`load`), or takes as written when it commits the pack, and
// keeps here; the index view serves them as records of their own, so that every version is
// found by position or number the same way (`IndexView`).

/// The versions of a generation's pack commit.
package struct PackedVersions: Sendable {
    /// The pack commit.
    package let pack: CommitPoint
    /// Its version table (the last entry is the pack commit's own version).
    package let entries: [VersionTable.Entry]

    /// Memberwise.
    package init(pack: CommitPoint, entries: [VersionTable.Entry]) {
        self.pack = pack
        self.entries = entries
    }

    /// Records the index view serves before the file's: every packed version but the last,
    /// whose record is the file's first.
    package var extra: Int { entries.count - 1 }

    /// The index record of packed version `i` (0 ..< extra).
    package func record(_ i: Int) -> IndexRecord {
        IndexRecord(packed: entries[i], pack: pack.record, page: pack.page, synced: true)
    }

    /// Reads and checks the version table of the pack commit the index record `first` (the
    /// index's first, flagged packed) names, in the data file mapped at `base`.
    package static func load(first: IndexRecord, base: UnsafeRawPointer, pageSize: Int) throws -> PackedVersions {
        guard let commit = Recovery.verifiedCommit(base: base, pageSize: pageSize, page: first.commitPage), commit.pack != nil,
              commit.version == first.version else {
            throw CowDBError.corrupt(page: first.commitPage, offset: nil, reason: "the index's first record names no pack commit of version \(first.version)")
        }
        let entries = try Recovery.versionTable(of: commit, page: first.commitPage, base: base, pageSize: pageSize)
        return PackedVersions(pack: CommitPoint(record: commit, page: first.commitPage), entries: entries)
    }
}
