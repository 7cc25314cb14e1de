import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

// Backup and copy. The data file is append-only, so a backup is a byte prefix of it: bytes
// [0, end of the latest commit record) never change once written (until compaction starts a
// new generation). A first backup copies that prefix; a later one, after checking that the
// destination still is a prefix of the source (same UUID, same generation, and its last
// commit record equal byte for byte to the source's page at that place), appends only what
// was committed since — then verifies what it appended by opening the destination, whose
// recovery checks every page checksum, region checksum and chain link of the new tail.

/// What `Database.backup(to:)` did.
public struct BackupReport: Sendable, Equatable {
    /// The latest version the destination now holds.
    public let version: UInt64
    /// The version the destination held before (nil: this was a full backup).
    public let previousVersion: UInt64?
    /// Bytes written to the destination's data file.
    public let bytesCopied: UInt64
    /// The destination data file's length.
    public let fileBytes: UInt64

    /// Whether only the bytes committed since the previous backup were copied.
    public var isIncremental: Bool { previousVersion != nil }
}

extension Database {
    /// Bytes copied per write while backing up.
    static let backupChunk = 8 << 20

    /// Backs the database up into the directory `destination` while it stays in use: the
    /// latest version and all before it, with the tags. When `destination` already holds an
    /// earlier backup of this database (same UUID and generation, and its last commit record
    /// equal to the source's at that place) only the bytes committed since are appended;
    /// otherwise — a first backup, or a compaction since — the whole file is copied (through a
    /// temporary file and a rename). A destination that holds another database, or that has
    /// diverged from this one, is refused unless `full` is set, which replaces it.
    @discardableResult
    public func backup(to destination: String, full: Bool = false) throws -> BackupReport {
        // 1. The consistent point: the latest commit, its mapping and the index file's records (a
        //    pack's earlier versions are in its version table), from one view of one generation
        //    (a compaction switching meanwhile must not pair one file's bytes with the other's index).
        let (current, view) = try openView()
        let source = makeSource(current, view.latest, mapping: view.mapping)
        let records = try (view.index.packedExtra ..< view.index.count).map { try view.index.record($0) }.filter { $0.version <= source.version }
        let end = ((source.commit?.page ?? 0) + 1) * UInt64(current.store.layout.pageSize)
        let tags = try readTags()

        // 2. The destination: created if missing, locked as a writer would lock it.
        if !backend.exists(destination) { try backend.makeDirectory(destination) }
        let lock = try LockFile(path: destination + "/lock", writable: true, fileMode: options.fileMode)
        defer { lock.close() }
        try lock.lockForWriting(timeout: options.lockTimeout)
        // Every level of its path durable (whoever created them, a failed backup included).
        try backend.syncEveryLevel(of: destination)

        // 3. Incremental when the destination holds this generation and is a prefix of it.
        let generation = current.number
        let dataName = CurrentFile.dataName(generation), indexName = CurrentFile.indexName(generation)
        let destinationGeneration = backend.exists(destination + "/" + CurrentFile.name)
            ? try CurrentFile.read(in: destination, backend: backend) : 1
        let (start, previousVersion) = try incrementalStart(destination, generation: destinationGeneration, source: source,
                                                             sourceGeneration: generation, end: end, full: full)

        // 4. Copy, sync, verify.
        var copied: UInt64 = 0
        if previousVersion == nil {
            copied = try copyWhole(to: destination, name: dataName, indexName: indexName, end: end, from: source.mapping)
        } else if end > start {
            let file = try backend.open(destination + "/" + dataName, create: false, readOnly: false)
            defer { file.close() }
            try file.truncate(to: start) // nothing past the shared prefix survives
            copied = try copyRange(start ..< end, from: source.mapping, to: file)
            try file.sync()
        }
        try verifyBackup(destination, generation: generation, expecting: source.version)

        // 5. The index (a copy of this database's records, all covered by the sync above), the
        //    generation pointer (then the destination's older generation goes), the tags.
        try writeIndex(records, into: destination, name: indexName)
        if generation != destinationGeneration || backend.exists(destination + "/" + CurrentFile.name) {
            try Database.replaceFile(CurrentFile.name, in: destination, with: CurrentFile.encode(generation: generation), backend: backend)
            if generation != destinationGeneration {
                try backend.unlink(destination + "/" + CurrentFile.dataName(destinationGeneration))
                try backend.unlink(destination + "/" + CurrentFile.indexName(destinationGeneration))
            }
        }
        // A read-only process with the backup open looks no further than what was published.
        lock.publish(version: source.version, commitPage: source.commit?.page ?? 0,
                     generation: generation, indexCount: records.count)
        if !tags.isEmpty || backend.exists(destination + "/" + Database.tagsName) {
            try Database.replaceFile(Database.tagsName, in: destination, with: TagFile.encode(tags), backend: backend)
        }
        // 6. Every entry made above (the index, a first backup's lock file) durable: a backup
        //    that returned survives a power cut whole.
        try backend.syncDirectory(destination)
        return BackupReport(version: source.version, previousVersion: previousVersion, bytesCopied: copied, fileBytes: end)
    }

    /// Where an incremental backup into `destination` starts appending, and the version the
    /// destination holds; (0, nil) for a full backup. Throws when the destination is refused.
    private func incrementalStart(_ destination: String, generation: UInt64, source: ReadSource, sourceGeneration: UInt64,
                                  end: UInt64, full: Bool) throws -> (UInt64, UInt64?) {
        guard backend.exists(destination + "/" + CurrentFile.dataName(generation)) else { return (0, nil) }
        switch try sharedPrefix(destination: destination, generation: generation, source: source, sourceGeneration: sourceGeneration, end: end) {
        case .prefix(let length, let version):
            return (length, version)
        case .otherGeneration:
            return (0, nil)
        case .refused(let reason):
            guard full else { throw CowDBError.invalidArgument("cannot back up into \(destination): \(reason) (a full backup would replace it)") }
            return (0, nil)
        }
    }

    /// How the destination's data file relates to this one.
    private enum SharedPrefix {
        /// Its first `length` bytes are ours, ending with version `version`'s commit record.
        case prefix(length: UInt64, version: UInt64)
        /// The same database, an older generation (compaction since): copy whole.
        case otherGeneration
        /// Not ours, or diverged.
        case refused(String)
    }

    /// Compares the destination's header and last commit record with this file.
    private func sharedPrefix(destination: String, generation: UInt64, source: ReadSource, sourceGeneration: UInt64,
                              end: UInt64) throws -> SharedPrefix {
        let other: PageStore
        do {
            other = try PageStore(backend: backend, directory: destination, readOnly: true, minimumReservation: store.layout.pageSize,
                                  name: CurrentFile.dataName(generation))
        } catch let error as CowDBError {
            return .refused("it holds no CowDB backup (\(error))")
        }
        defer { other.file.close() }
        guard other.header.uuid == store.header.uuid else { return .refused("it holds another database (UUID \(other.header.uuid))") }
        guard other.header.generation == sourceGeneration else { return .otherGeneration }
        let pageSize = store.layout.pageSize
        let fileLength = try other.file.length()
        // Where the destination's last backup ended: its index's last record (a backup
        // interrupted while appending leaves a tail past it, cut off below), else the file's end.
        var length = fileLength
        if let last = try lastIndexRecord(destination, name: CurrentFile.indexName(generation)), (last.commitPage + 1) * UInt64(pageSize) <= fileLength {
            length = (last.commitPage + 1) * UInt64(pageSize)
        }
        if length == UInt64(pageSize) { return .prefix(length: length, version: 0) } // a backup of the empty database
        guard length % UInt64(pageSize) == 0, length >= 2 * UInt64(pageSize), length <= end else {
            return .refused("its data file (\(length) bytes) is not a prefix of this one (\(end) bytes)")
        }
        let page = length / UInt64(pageSize) - 1
        var theirs = [UInt8](repeating: 0, count: pageSize)
        let got = try theirs.withUnsafeMutableBytes { try other.file.read(into: $0, at: page * UInt64(pageSize)) }
        let ours = UnsafeRawBufferPointer(start: source.mapping.base + Int(page) * pageSize, count: pageSize)
        guard got == pageSize, theirs.elementsEqual(ours),
              let record = Recovery.verifiedCommit(base: source.mapping.base, pageSize: pageSize, page: page)
        else {
            return .refused("its last page is not the commit record at page \(page) of this database (it has diverged)")
        }
        return .prefix(length: length, version: record.version)
    }

    /// The last record of the destination's index, if it has one that verifies.
    private func lastIndexRecord(_ destination: String, name: String) throws -> IndexRecord? {
        guard backend.exists(destination + "/" + name) else { return nil }
        let file = try backend.open(destination + "/" + name, create: false, readOnly: true)
        defer { file.close() }
        let count = try file.length() / UInt64(IndexRecord.size)
        guard count > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: IndexRecord.size)
        let got = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: (count - 1) * UInt64(IndexRecord.size)) }
        guard got == IndexRecord.size else { return nil }
        return bytes.withUnsafeBytes { IndexRecord.decode($0) }
    }

    /// A full copy through `NAME.tmp`: written, synced, renamed over `NAME` (after removing
    /// the old index, which would not match), directory synced.
    private func copyWhole(to destination: String, name: String, indexName: String, end: UInt64, from mapping: MappedRegion) throws -> UInt64 {
        try Database.replaceFile(name, in: destination, backend: backend,
                                 beforeRename: { try backend.unlink(destination + "/" + indexName) }) { file in
            try copyRange(0 ..< end, from: mapping, to: file)
        }
    }

    /// Writes bytes `range` of the mapped file to the same offsets of `file`, in large chunks.
    private func copyRange(_ range: Range<UInt64>, from mapping: MappedRegion, to file: any StorageFile) throws -> UInt64 {
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = Int(min(UInt64(Database.backupChunk), range.upperBound - offset))
            try file.write(UnsafeRawBufferPointer(start: mapping.base + Int(offset), count: count), at: offset)
            offset += UInt64(count)
        }
        return range.upperBound - range.lowerBound
    }

    /// Runs recovery on the destination as a writer's open would — it verifies every page
    /// past the destination's last synced index record (everything this backup appended:
    /// page checksums, region checksums, chain links) — and checks where it ends.
    private func verifyBackup(_ destination: String, generation: UInt64, expecting version: UInt64) throws {
        let place = GenerationPlace(backend: backend, directory: destination, readOnly: true, mapReservation: store.layout.pageSize)
        let copy = try Generation.open(place, number: generation, lockFile: nil)
        defer { copy.closeFiles() }
        let pages = try copy.store.filePages()
        let latest = copy.current().latest
        let reached = latest?.record.version ?? 0
        guard reached == version, (latest?.page ?? 0) + 1 == pages else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "backup \(destination) verifies only up to version \(reached), not \(version)")
        }
    }

    /// Writes this database's index records (all synced in the destination) as its index, synced.
    private func writeIndex(_ records: [IndexRecord], into destination: String, name: String) throws {
        var bytes = [UInt8](repeating: 0, count: records.count * IndexRecord.size)
        bytes.withUnsafeMutableBytes { buffer in
            for (i, record) in records.enumerated() {
                var synced = record
                synced.flags |= IndexRecord.syncedFlag
                synced.encode(into: UnsafeMutableRawBufferPointer(rebasing: buffer[i * IndexRecord.size ..< (i + 1) * IndexRecord.size]))
            }
        }
        let file = try backend.open(destination + "/" + name, create: true, readOnly: false)
        defer { file.close() }
        try file.truncate(to: 0)
        try bytes.withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
    }

    // MARK: Copy

    /// Writes a new database at `destination` (which must not exist) holding only the content
    /// of `version` (default: the latest), repacked into full pages, as its version 1 — like
    /// `mdb_copy -c`. Tags are not copied (they name versions of this database).
    public func copy(to destination: String, version: UInt64? = nil) throws {
        guard !backend.exists(destination) else { throw CowDBError.invalidArgument("\(destination) already exists") }
        var options = DatabaseOptions()
        options.pageSize = store.layout.pageSize
        options.fileMode = self.options.fileMode
        let copy = try Database(path: destination, options: options, backend: backend)
        do {
            try read(at: version ?? latestVersion) { source in
                try copy.write { target in
                    for entry in try source.scan() { try target.put(entry.key, entry.value) }
                    for name in try source.keyspaces() {
                        let keyspace = try target.createKeyspace(name)
                        for entry in try source.keyspace(name).scan() { try keyspace.put(entry.key, entry.value) }
                    }
                }
            }
            try copy.close()
        } catch {
            try? copy.close()
            throw error
        }
    }
}
