// The version table of a pack commit: which versions it holds, with what the index says of
// each, so that the index can be rebuilt from the data file alone. Stored as the value of one
// overflow run (OverflowPage.swift) inside the pack commit's region.
//
//   offset  size  field (repeated versionCount times, 24 bytes each)
//   0       8     version        strictly increasing; the first is the pack's firstVersion,
//                                the last its version
//   8       8     timestamp      ns since 1970, strictly increasing; the last is the pack's
//   16      8     totalCount     entries in all keyspaces at that version; the last is the pack's

/// Encoding and decoding of a pack commit's version table.
package enum VersionTable {
    package static let entrySize = 24

    /// One packed version.
    package struct Entry: Equatable, Sendable {
        package var version: UInt64
        package var timestamp: UInt64
        package var totalCount: UInt64

        /// Memberwise.
        package init(version: UInt64, timestamp: UInt64, totalCount: UInt64) {
            (self.version, self.timestamp, self.totalCount) = (version, timestamp, totalCount)
        }
    }

    /// The bytes of a table of `entries`.
    package static func encode(_ entries: [Entry]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: entries.count * entrySize)
        bytes.withUnsafeMutableBytes { out in
            for (i, entry) in entries.enumerated() {
                out.setU64(entry.version, i * entrySize)
                out.setU64(entry.timestamp, i * entrySize + 8)
                out.setU64(entry.totalCount, i * entrySize + 16)
            }
        }
        return bytes
    }

    /// Decodes the table `bytes` of the pack commit `pack` (on `page`) and checks it against
    /// it; throws `corrupt` naming the page when anything disagrees.
    package static func decode(_ bytes: UnsafeRawBufferPointer, pack record: CommitRecord, page: PageNumber) throws -> [Entry] {
        guard let pack = record.pack, UInt64(bytes.count) == pack.versionCount * UInt64(entrySize) else {
            throw CowDBError.corruptPage(page, "version table of \(bytes.count) bytes for a pack of \(record.pack?.versionCount ?? 0) versions")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(pack.versionCount))
        for i in 0 ..< Int(pack.versionCount) {
            let entry = Entry(version: bytes.u64(i * entrySize), timestamp: bytes.u64(i * entrySize + 8),
                              totalCount: bytes.u64(i * entrySize + 16))
            if let last = entries.last, entry.version <= last.version || entry.timestamp <= last.timestamp {
                throw CowDBError.corruptPage(page, "version table entry \(i) (version \(entry.version)) does not follow the one before")
            }
            entries.append(entry)
        }
        guard entries.first?.version == pack.firstVersion, let last = entries.last, last.version == record.version,
              last.timestamp == record.timestamp, last.totalCount == record.totalCount else {
            throw CowDBError.corruptPage(page, "version table does not run from version \(pack.firstVersion) to the pack's \(record.version)")
        }
        return entries
    }
}
