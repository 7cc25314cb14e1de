// One record of the index file (`index`): a dense, fixed-size copy of the commit records,
// version → where its commit record is and what it says. Written after the durability
// point without a sync of its own; checked against the data file at open and rebuilt from
// the chained commit records when short or damaged.
//
//   offset size field
//   0      8    version
//   8      8    timestamp       ns since 1970
//   16     8    commitPage      page number of the commit record in the data file
//   24     8    catalogRoot
//   32     8    defaultRoot
//   40     8    totalCount      entries in all keyspaces
//   48     4    appendedPages   pages this commit appended, its record included
//   52     4    flags           bit 0: synced (an fdatasync covered this commit);
//                                 bit 1: packed (the record of a pack commit, whose history
//                                 tree is catalogRoot; only ever the index's first record).
//                                 The versions before the pack's own are not in the file:
//                                 its version table lists them (PackedVersions.swift).
//   56     4    reserved        0
//   60     4    checksum        CRC-32C of bytes [0, 60)
//
// Record i sits at byte 64·i. Versions are increasing; dense until compaction makes gaps.

/// The decoded index record.
package struct IndexRecord: Equatable, Sendable {
    package static let size = 64
    package static let syncedFlag: UInt32 = 1
    package static let packedFlag: UInt32 = 2

    package var version: UInt64
    package var timestamp: UInt64
    package var commitPage: PageNumber
    package var catalogRoot: PageNumber
    package var defaultRoot: PageNumber
    package var totalCount: UInt64
    package var appendedPages: UInt32
    package var flags: UInt32

    /// Whether an `fdatasync` covered this commit before the record was written.
    package var isSynced: Bool { flags & IndexRecord.syncedFlag != 0 }

    /// Whether the version is a packed one.
    package var isPacked: Bool { flags & IndexRecord.packedFlag != 0 }

    /// The record the index view serves for a packed version, one entry of the version table
    /// of the pack commit at `page` (commitPage repeats; appendedPages 0).
    package init(packed entry: VersionTable.Entry, pack: CommitRecord, page: PageNumber, synced: Bool) {
        self.init(version: entry.version, timestamp: entry.timestamp, commitPage: page, catalogRoot: pack.catalogRoot,
                  defaultRoot: 0, totalCount: entry.totalCount, appendedPages: 0,
                  flags: IndexRecord.packedFlag | (synced ? IndexRecord.syncedFlag : 0))
    }

    /// The record for a commit record at `page`.
    package init(commit: CommitRecord, page: PageNumber, synced: Bool) {
        version = commit.version
        timestamp = commit.timestamp
        commitPage = page
        catalogRoot = commit.catalogRoot
        defaultRoot = commit.defaultRoot
        totalCount = commit.totalCount
        appendedPages = UInt32(clamping: page - commit.firstPage + 1)
        flags = (synced ? IndexRecord.syncedFlag : 0) | (commit.pack != nil ? IndexRecord.packedFlag : 0)
    }

    package init(version: UInt64, timestamp: UInt64, commitPage: PageNumber, catalogRoot: PageNumber,
         defaultRoot: PageNumber, totalCount: UInt64, appendedPages: UInt32, flags: UInt32) {
        self.version = version
        self.timestamp = timestamp
        self.commitPage = commitPage
        self.catalogRoot = catalogRoot
        self.defaultRoot = defaultRoot
        self.totalCount = totalCount
        self.appendedPages = appendedPages
        self.flags = flags
    }

    /// Encodes into 64 bytes.
    package func encode(into buffer: UnsafeMutableRawBufferPointer) {
        buffer.setU64(version, 0)
        buffer.setU64(timestamp, 8)
        buffer.setU64(commitPage, 16)
        buffer.setU64(catalogRoot, 24)
        buffer.setU64(defaultRoot, 32)
        buffer.setU64(totalCount, 40)
        buffer.setU32(appendedPages, 48)
        buffer.setU32(flags, 52)
        buffer.setU32(0, 56)
        buffer.setU32(crc32c(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0 ..< 60])), 60)
    }

    /// The 64 encoded bytes.
    package var encoded: [UInt8] {
        var bytes = [UInt8](repeating: 0, count: IndexRecord.size)
        bytes.withUnsafeMutableBytes { encode(into: $0) }
        return bytes
    }

    /// Decodes 64 bytes; nil when the checksum does not match (a torn or damaged record).
    package static func decode(_ bytes: UnsafeRawBufferPointer) -> IndexRecord? {
        guard bytes.count >= size, bytes.u32(60) == crc32c(UnsafeRawBufferPointer(rebasing: bytes[0 ..< 60])) else { return nil }
        return IndexRecord(version: bytes.u64(0), timestamp: bytes.u64(8), commitPage: bytes.u64(16),
                           catalogRoot: bytes.u64(24), defaultRoot: bytes.u64(32), totalCount: bytes.u64(40),
                           appendedPages: bytes.u32(48), flags: bytes.u32(52))
    }
}
