// A commit record: the last page a commit appends, naming the roots of the new version.
// The chain of commit records (each naming the previous one) is the root-pointer log;
// the index file beside the data file is a copy of it, one record per commit, for O(1)
// look-up while versions are dense.
//
//   offset size field
//   0      16   page header (kind 4, count 0, runLength 1)
//   16     8    version              1, 2, 3, … (previous + 1; a compacted commit, flag
//                                    bit 1, any greater number: dropped versions leave gaps)
//   24     8    timestamp            ns since 1970, max(now, previous + 1); a compacted
//                                    commit: the carried version's own
//   32     8    previousCommit       page of the previous commit record (0: none)
//   40     8    firstPage            first page this commit appended (previousCommit + 1, or 1)
//   48     8    catalogRoot          root page of the catalog tree (0: no named keyspaces)
//   56     8    defaultRoot          root page of the default keyspace (0: empty)
//   64     8    defaultCount         entries in the default keyspace
//   72     8    totalCount           entries in all keyspaces
//   80     4    regionChecksum       CRC-32C over the stored checksums (u32 LE) of the runs in
//                                    [firstPage, this page), in page order: binds the record to
//                                    exactly the pages its commit wrote
//   84     4    flags                bit 0: a rollback (holds rolledBackFrom's content: its
//                                    roots, or for a packed version, which has no trees,
//                                    new trees built from its state);
//                                    bit 1: written by compaction (the version may follow
//                                    the previous commit's with a gap);
//                                    bit 2: a pack commit (below); other bits 0
//   88     8    rolledBackFrom       with flag bit 0: the version whose content this commit
//                                    restores (0: the empty database); else 0
//   96     8    firstVersion         pack commits: the first packed version; else 0
//   104    8    versionCount         pack commits: how many versions are packed; else 0
//   112    8    versionTable         pack commits: first page of the overflow run holding
//                                    the version table (VersionTable.swift); else 0
//   120 …       zero to the end of the page; the page checksum covers it all
//
// A pack commit (FORMAT.md, "Pack commit") holds versions firstVersion … version of the
// database as one history tree: catalogRoot is its root, defaultRoot is 0, the counts are
// those of `version`. It is always the first commit of its file (previousCommit 0, firstPage
// 1), written by compaction (bit 1 set), never a rollback.

/// The decoded commit record.
package struct CommitRecord: Equatable, Sendable {
    package var version: UInt64
    package var timestamp: UInt64
    package var previousCommit: PageNumber
    package var firstPage: PageNumber
    package var catalogRoot: PageNumber
    package var defaultRoot: PageNumber
    package var defaultCount: UInt64
    package var totalCount: UInt64
    package var regionChecksum: UInt32
    /// Set when this commit is a rollback: the version whose roots it repeats.
    package var rolledBackFrom: UInt64?
    /// Set when compaction wrote this commit: its version may skip numbers dropped before it.
    package var compacted = false
    /// Set for a pack commit: which versions it holds and where their table is.
    package var pack: Pack?

    /// What a pack commit adds to a commit record.
    package struct Pack: Equatable, Sendable {
        package var firstVersion: UInt64
        package var versionCount: UInt64
        package var versionTable: PageNumber

        /// Memberwise.
        package init(firstVersion: UInt64, versionCount: UInt64, versionTable: PageNumber) {
            (self.firstVersion, self.versionCount, self.versionTable) = (firstVersion, versionCount, versionTable)
        }
    }

    /// Memberwise.
    package init(version: UInt64, timestamp: UInt64, previousCommit: PageNumber, firstPage: PageNumber, catalogRoot: PageNumber, defaultRoot: PageNumber, defaultCount: UInt64, totalCount: UInt64, regionChecksum: UInt32, rolledBackFrom: UInt64? = nil, compacted: Bool = false) {
        self.version = version
        self.timestamp = timestamp
        self.previousCommit = previousCommit
        self.firstPage = firstPage
        self.catalogRoot = catalogRoot
        self.defaultRoot = defaultRoot
        self.defaultCount = defaultCount
        self.totalCount = totalCount
        self.regionChecksum = regionChecksum
        self.rolledBackFrom = rolledBackFrom
        self.compacted = compacted
    }


    /// Flag bit 0: the commit is a rollback.
    package static let rollbackFlag: UInt32 = 1
    /// Flag bit 1: compaction wrote the commit.
    package static let compactedFlag: UInt32 = 2
    /// Flag bit 2: a pack commit.
    package static let packedFlag: UInt32 = 4

    /// Writes the record into a zeroed page buffer and seals it with its checksum (the page
    /// sink seals it again when appending: the same bytes, the same checksum).
    package func encode(into page: UnsafeMutableRawBufferPointer, pageNumber: PageNumber) -> UInt32 {
        PageHeader.write(page, kind: .commit, count: 0, runLength: 1)
        page.setU64(version, 16)
        page.setU64(timestamp, 24)
        page.setU64(previousCommit, 32)
        page.setU64(firstPage, 40)
        page.setU64(catalogRoot, 48)
        page.setU64(defaultRoot, 56)
        page.setU64(defaultCount, 64)
        page.setU64(totalCount, 72)
        page.setU32(regionChecksum, 80)
        page.setU32((rolledBackFrom == nil ? 0 : CommitRecord.rollbackFlag) | (compacted ? CommitRecord.compactedFlag : 0)
                    | (pack == nil ? 0 : CommitRecord.packedFlag), 84)
        page.setU64(rolledBackFrom ?? 0, 88)
        if let pack {
            page.setU64(pack.firstVersion, 96)
            page.setU64(pack.versionCount, 104)
            page.setU64(pack.versionTable, 112)
        }
        return PageHeader.seal(page, pageNumber: pageNumber)
    }

    /// Decodes a commit page whose checksum the caller has verified (or chooses not to).
    package static func decode(_ page: UnsafeRawBufferPointer, pageNumber: PageNumber) throws -> CommitRecord {
        guard page.u8(PageHeader.kindOffset) == PageKind.commit.rawValue, page.u32(PageHeader.runLengthOffset) == 1 else {
            throw CowDBError.corruptPage(pageNumber, "expected a commit record, found kind \(page.u8(4))", offset: 4)
        }
        let flags = page.u32(84)
        guard flags & ~(CommitRecord.rollbackFlag | CommitRecord.compactedFlag | CommitRecord.packedFlag) == 0 else {
            throw CowDBError.corruptPage(pageNumber, "unknown commit flags \(flags)", offset: 84)
        }
        let rolledBackFrom: UInt64? = flags & CommitRecord.rollbackFlag != 0 ? page.u64(88) : nil
        var record = CommitRecord(
            version: page.u64(16), timestamp: page.u64(24), previousCommit: page.u64(32), firstPage: page.u64(40),
            catalogRoot: page.u64(48), defaultRoot: page.u64(56), defaultCount: page.u64(64),
            totalCount: page.u64(72), regionChecksum: page.u32(80), rolledBackFrom: rolledBackFrom,
            compacted: flags & CommitRecord.compactedFlag != 0)
        if flags & CommitRecord.packedFlag != 0 {
            record.pack = try decodePack(page, record: record, pageNumber: pageNumber)
        } else if page.u64(96) != 0 || page.u64(104) != 0 || page.u64(112) != 0 {
            throw CowDBError.corruptPage(pageNumber, "pack fields set in a commit record that is not a pack commit", offset: 96)
        }
        guard (rolledBackFrom ?? 0) < record.version, rolledBackFrom != nil || page.u64(88) == 0 else {
            throw CowDBError.corruptPage(pageNumber, "rollback field names version \(page.u64(88)), not one before \(record.version)", offset: 88)
        }
        guard record.previousCommit < pageNumber, record.firstPage <= pageNumber, record.firstPage >= 1,
              record.catalogRoot < pageNumber, record.defaultRoot < pageNumber
        else {
            throw CowDBError.corruptPage(pageNumber, "commit record links point at or past itself")
        }
        return record
    }

    /// The pack fields of a pack commit, checked against the rest of the record.
    private static func decodePack(_ page: UnsafeRawBufferPointer, record: CommitRecord, pageNumber: PageNumber) throws -> Pack {
        let pack = Pack(firstVersion: page.u64(96), versionCount: page.u64(104), versionTable: page.u64(112))
        guard record.compacted, record.rolledBackFrom == nil, record.previousCommit == 0, record.firstPage == 1, record.defaultRoot == 0 else {
            throw CowDBError.corruptPage(pageNumber, "a pack commit must be its file's first commit, written by compaction, with no default root", offset: 84)
        }
        guard pack.versionCount >= 1, pack.versionCount <= record.version, pack.firstVersion >= 1, pack.firstVersion <= record.version,
              record.version - pack.firstVersion >= pack.versionCount - 1 else {
            throw CowDBError.corruptPage(pageNumber, "pack commit of \(pack.versionCount) versions from \(pack.firstVersion) to \(record.version)", offset: 96)
        }
        guard pack.versionTable >= 1, pack.versionTable < pageNumber else {
            throw CowDBError.corruptPage(pageNumber, "pack commit's version table at page \(pack.versionTable) is not before it", offset: 112)
        }
        return pack
    }

    /// Whether this record may follow a commit of version `previous` in the chain: the next
    /// number, or — for a commit compaction wrote — any later one.
    package func follows(_ previous: UInt64) -> Bool {
        version == previous + 1 || (compacted && version > previous)
    }
}
