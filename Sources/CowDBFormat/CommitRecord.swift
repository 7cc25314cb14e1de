// A commit record: the last page a commit appends, naming the roots of the new version.
// The chain of commit records (each naming the previous one) is the root-pointer log;
// the index file beside the data file is a dense copy of it for O(1) look-up.
//
//   offset size field
//   0      16   page header (kind 4, count 0, runLength 1)
//   16     8    version              1, 2, 3, … (previous + 1)
//   24     8    timestamp            ns since 1970, max(now, previous + 1)
//   32     8    previousCommit       page of the previous commit record (0: none)
//   40     8    firstPage            first page this commit appended (previousCommit + 1, or 1)
//   48     8    catalogRoot          root page of the catalog tree (0: no named keyspaces)
//   56     8    defaultRoot          root page of the default keyspace (0: empty)
//   64     8    defaultCount         entries in the default keyspace
//   72     8    totalCount           entries in all keyspaces
//   80     4    regionChecksum       CRC-32C over the stored checksums (u32 LE) of the runs in
//                                    [firstPage, this page), in page order: binds the record to
//                                    exactly the pages its commit wrote
//   84     4    flags                bit 0: a rollback (the roots are those of rolledBackFrom);
//                                    bit 1: written by compaction (the version may follow
//                                    the previous commit's with a gap); other bits 0
//   88     8    rolledBackFrom       with flag bit 0: the version whose content this commit
//                                    restores (0: the empty database); else 0
//   96 …        zero to the end of the page; the page checksum covers it all

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
        page.setU32((rolledBackFrom == nil ? 0 : CommitRecord.rollbackFlag) | (compacted ? CommitRecord.compactedFlag : 0), 84)
        page.setU64(rolledBackFrom ?? 0, 88)
        return PageHeader.seal(page, pageNumber: pageNumber)
    }

    /// Decodes a commit page whose checksum the caller has verified (or chooses not to).
    package static func decode(_ page: UnsafeRawBufferPointer, pageNumber: PageNumber) throws -> CommitRecord {
        guard page.u8(PageHeader.kindOffset) == PageKind.commit.rawValue, page.u32(PageHeader.runLengthOffset) == 1 else {
            throw CowDBError.corruptPage(pageNumber, "expected a commit record, found kind \(page.u8(4))", offset: 4)
        }
        let flags = page.u32(84)
        guard flags & ~(CommitRecord.rollbackFlag | CommitRecord.compactedFlag) == 0 else {
            throw CowDBError.corruptPage(pageNumber, "unknown commit flags \(flags)", offset: 84)
        }
        let rolledBackFrom: UInt64? = flags & CommitRecord.rollbackFlag != 0 ? page.u64(88) : nil
        let record = CommitRecord(
            version: page.u64(16), timestamp: page.u64(24), previousCommit: page.u64(32), firstPage: page.u64(40),
            catalogRoot: page.u64(48), defaultRoot: page.u64(56), defaultCount: page.u64(64),
            totalCount: page.u64(72), regionChecksum: page.u32(80), rolledBackFrom: rolledBackFrom,
            compacted: flags & CommitRecord.compactedFlag != 0)
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

    /// Whether this record may follow a commit of version `previous` in the chain: the next
    /// number, or — for a commit compaction wrote — any later one.
    package func follows(_ previous: UInt64) -> Bool {
        version == previous + 1 || (compacted && version > previous)
    }
}
