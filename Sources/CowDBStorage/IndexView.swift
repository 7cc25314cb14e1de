import CowDBFormat
// A consistent snapshot of the index (`RootLog.view`): the map of its file, how many of the
// file's records are trusted, and the records known only in memory after them. Taken under the
// generation's head lock together with the latest commit, it is then searched without a lock:
// the writer only writes past `fileCount` (flagging the last record synced in place happens at
// open, before any reader, and at close, where a read racing it is covered by the one retry
// below), and the map always covers the trusted records.

/// The index as it stood at one moment, searchable without a lock.
package struct IndexView: @unchecked Sendable {
    /// The map of the index file (of the data file for a read-only process without an index).
    let mapping: MappedRegion
    /// Records trusted in the file.
    let fileCount: Int
    /// Records after the file's, known from the data file only.
    let pending: [IndexRecord]
    /// The versions of the generation's pack commit before its own (whose record is the
    /// file's first), served as records before the file's.
    let packed: PackedVersions?

    /// Memberwise.
    init(mapping: MappedRegion, fileCount: Int, pending: [IndexRecord], packed: PackedVersions?) {
        (self.mapping, self.fileCount, self.pending, self.packed) = (mapping, fileCount, pending, packed)
    }

    /// Records served before the file's (packed versions).
    package var packedExtra: Int { packed?.extra ?? 0 }

    /// Total records known.
    package var count: Int { packedExtra + fileCount + pending.count }

    /// Record `i` of the index.
    package func record(_ i: Int) throws -> IndexRecord {
        precondition(i >= 0 && i < count)
        if let packed, i < packed.extra { return packed.record(i) }
        let i = i - packedExtra
        if i >= fileCount { return pending[i - fileCount] }
        let bytes = UnsafeRawBufferPointer(start: mapping.base + i * IndexRecord.size, count: IndexRecord.size)
        // One retry: a writer in another process may be flagging this record synced in place.
        guard let record = IndexRecord.decode(bytes) ?? IndexRecord.decode(bytes) else {
            throw CowDBError.corrupt(page: nil, offset: i * IndexRecord.size, reason: "index record \(i) checksum mismatch")
        }
        return record
    }

    /// The last record, if any.
    package func last() throws -> IndexRecord? { count == 0 ? nil : try record(count - 1) }

    /// The position of `version`: O(1) while versions are dense, binary search otherwise.
    package func position(of version: UInt64) throws -> Int? {
        guard count > 0 else { return nil }
        let first = try record(0).version
        if version >= first, version - first < UInt64(count) {
            let guess = Int(version - first)
            if try record(guess).version == version { return guess }
        }
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            let v = try record(mid).version
            if v == version { return mid }
            if v < version { low = mid + 1 } else { high = mid }
        }
        return nil
    }

    /// The position of the last version committed at or before `timestamp` (ns since 1970).
    package func position(asOf timestamp: UInt64) throws -> Int? {
        var low = 0, high = count
        while low < high {
            let mid = (low + high) / 2
            if try record(mid).timestamp <= timestamp { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : low - 1
    }
}
