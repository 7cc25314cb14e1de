import CowDBFormat
// The index file (`index`): fixed-size records, version → commit record (see IndexRecord.swift).
// Records [0, fileCount) are read from a map of the file; records recovered from the data
// file but not (yet) written to the index are held in `pending` (a read-only process never
// writes; the writer writes them at open).

/// The dense index of commit records.
package final class RootLog: @unchecked Sendable {
    package let file: any StorageFile
    private var mapping: MappedRegion
    /// A larger map that `write` made for `count` to install (the writer's only).
    private var grownMapping: MappedRegion?
    /// Records trusted in the file.
    package private(set) var fileCount: Int
    /// Records after the file's, known from the data file only.
    package private(set) var pending: [IndexRecord] = []

    /// Opens (creating when writable) the index file and maps it; `fileCount` starts at 0
    /// until `adopt` says how many of its records the recovery trusts.
    package init(backend: any StorageBackend, directory: String, readOnly: Bool, name: String = "index", dataName: String = "data") throws {
        let path = directory + "/" + name
        if readOnly, !backend.exists(path) {
            // A read-only process never creates files; an empty view stands in.
            file = try backend.open(directory + "/" + dataName, create: false, readOnly: true)
            mapping = try file.map(reservedLength: 1 << 20)
            fileCount = 0
            pending = []
            readOnlyWithoutFile = true
            return
        }
        file = try backend.open(path, create: !readOnly, readOnly: readOnly)
        mapping = try file.map(reservedLength: 1 << 30)
        fileCount = 0
        readOnlyWithoutFile = false
    }

    private let readOnlyWithoutFile: Bool

    /// Number of records in the file (whole records only).
    package func recordsInFile() throws -> Int {
        readOnlyWithoutFile ? 0 : Int(try file.length() / UInt64(IndexRecord.size))
    }

    /// The record at position `i` of the file, decoded; nil when torn or damaged.
    package func fileRecord(_ i: Int) throws -> IndexRecord? {
        let end = (i + 1) * IndexRecord.size
        if end > mapping.reservedLength {
            mapping = try file.map(reservedLength: max(mapping.reservedLength * 2, end * 2))
        }
        return IndexRecord.decode(UnsafeRawBufferPointer(start: mapping.base + i * IndexRecord.size, count: IndexRecord.size))
    }

    /// Total records known.
    package var count: Int { fileCount + pending.count }

    /// Record `i` of the log.
    package func record(_ i: Int) throws -> IndexRecord { try view.record(i) }

    /// The last record, if any.
    package func last() throws -> IndexRecord? { try view.last() }

    /// The records as they stand now, to search without a lock (see IndexView.swift). The map
    /// covers every trusted record: recovery read them through it, `writePending` extends it
    /// before counting the records it wrote, and `write` before `count` counts one.
    package var view: IndexView { view(packed: nil) }

    /// The view, serving `packed`'s versions before the file's records.
    package func view(packed: PackedVersions?) -> IndexView {
        IndexView(mapping: mapping, fileCount: fileCount, pending: pending, packed: packed)
    }

    /// Makes the map cover `records` records.
    private func mapCovering(_ records: Int) throws {
        let end = records * IndexRecord.size
        if end > mapping.reservedLength {
            mapping = try file.map(reservedLength: max(mapping.reservedLength * 2, end * 2))
        }
    }

    /// Sets what recovery established: the first `fileCount` file records are trusted,
    /// `pending` follow them.
    package func adopt(fileCount: Int, pending: [IndexRecord]) {
        self.fileCount = fileCount
        self.pending = pending
    }

    /// Writes pending records to the file after the trusted ones and drops anything beyond
    /// (writer only; no sync here: the open syncs the index right after, see
    /// `Generation.settle`).
    package func writePending() throws {
        try file.truncate(to: UInt64(fileCount * IndexRecord.size))
        if !pending.isEmpty {
            try mapCovering(fileCount + pending.count)
            var bytes = [UInt8]()
            bytes.reserveCapacity(pending.count * IndexRecord.size)
            for record in pending { bytes += record.encoded }
            try bytes.withUnsafeBytes { try file.write($0, at: UInt64(fileCount * IndexRecord.size)) }
            fileCount += pending.count
            pending = []
        }
    }

    /// Appends records (writer, after the durability point; one, or a pack commit's), first step: writes `records`
    /// after the file's trusted records; returns whether it was written. No view reaches it
    /// until `count` counts it, so this runs outside the head lock. If the write fails, the
    /// record (and every later one) stays pending in memory, so the file never has a gap; the
    /// next open rebuilds what is missing from the data file.
    package func write(_ records: [IndexRecord]) -> Bool {
        guard pending.isEmpty else { return false }
        do {
            let end = (fileCount + records.count) * IndexRecord.size
            if end > mapping.reservedLength {
                grownMapping = try file.map(reservedLength: max(mapping.reservedLength * 2, end * 2))
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(records.count * IndexRecord.size)
            for record in records { bytes += record.encoded }
            try bytes.withUnsafeBytes { try file.write($0, at: UInt64(fileCount * IndexRecord.size)) }
            return true
        } catch {
            grownMapping = nil // the record stays pending: no map to install for it
            return false
        }
    }

    /// Counts a record `write` handled: trusted in the file when it was written (the map
    /// `write` grew, if it had to, is installed), else pending. Under the head lock, with the
    /// head moving to its commit: loads and stores only.
    package func count(_ records: [IndexRecord], written: Bool) {
        if written {
            if let grown = grownMapping { mapping = grown }
            grownMapping = nil
            fileCount += records.count
        } else {
            pending += records
        }
    }

    /// Rewrites record `i` in place (used to mark the last record synced).
    package func rewrite(_ i: Int, _ record: IndexRecord) throws {
        precondition(i < fileCount)
        try record.encoded.withUnsafeBytes { try file.write($0, at: UInt64(i * IndexRecord.size)) }
    }

    /// Extends the view with records a writer in another process has written since
    /// (read-only processes): records [fileCount, newCount) are read from the file.
    package func refresh(toCount newCount: Int) throws {
        guard newCount > count, !readOnlyWithoutFile else { return }
        let inFile = try recordsInFile()
        guard count < min(newCount, inFile) else { return }
        var fresh: [IndexRecord] = []
        for i in count ..< min(newCount, inFile) {
            guard let record = try fileRecord(i) else { break }
            fresh.append(record)
        }
        pending += fresh
    }
}
