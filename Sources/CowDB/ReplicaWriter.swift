import CowDBFormat
import CowDBStorage
import Foundation

// The writer of a replica directory (`cowdb restore`, `cowdb follow`; docs/REPLICATION.md):
// it writes a data file's bytes as they were shipped, never builds a page. It holds the
// directory's writer lock, as a backup does, so no other writer can open the replica while
// it is kept current; read-only processes read it meanwhile and see each batch once its
// bytes are durable, through the same publication a writer makes.
//
// The bytes it is given were verified by the caller (SegmentScan: run checksums, chain,
// region checksums). It writes them at the end of the last commit, syncs, appends their index
// records (flagged synced, which the sync made true), then publishes. A crash at any point
// leaves at most a torn tail past the last synced commit, which recovery cuts off. A new
// generation is written to `data.G.tmp`, synced once when complete, then renamed into place
// and named by `CURRENT`: until then no reader can see it.

/// Writes shipped bytes into a database directory and publishes them to its readers.
package final class ReplicaWriter {
    /// The replica directory.
    package let path: String
    /// The generation being written (0 before the first one begins).
    package private(set) var generation: UInt64 = 0
    /// The last commit written (nil: none yet).
    package private(set) var latest: CommitPoint?
    /// Bytes through the last commit written.
    package private(set) var end: UInt64 = 0
    /// The page size (of the generation written).
    package private(set) var pageSize = 0
    /// The database's UUID (nil until a generation with a header is written).
    package private(set) var uuid: UUID?
    /// The generation a `finishGeneration` will replace (0: none).
    private var previousGeneration: UInt64 = 0
    private var indexCount = 0
    private var file: (any StorageFile)?
    private let backend: any StorageBackend
    private let lock: LockFile

    /// Opens the replica at `path` for writing. An existing database is recovered first (a
    /// writer's open cuts any torn tail), then locked; a missing directory is created empty.
    /// Throws `locked` when another writer has it open.
    /// `storage` is the files' storage (the crash tests give a fault-injecting one).
    package init(path: String, fileMode: UInt32 = 0o644, storage: (any StorageBackend)? = nil) throws {
        self.path = path
        let backend = storage ?? POSIXStorage(fileMode: fileMode)
        self.backend = backend
        let exists = backend.exists(path + "/data") || backend.exists(path + "/" + CurrentFile.name)
        var view: ShippingView?
        if exists {
            var options = DatabaseOptions()
            options.fileMode = fileMode
            let database = try Database(path: path, options: options, backend: backend) // unchecked-open: recovery only; the replica is checked by restore
            defer { try? database.close() }
            view = try database.shippingView()
        } else if !backend.exists(path) {
            try backend.makeDirectory(path)
        }
        // Every level of its path durable, whoever made it: what this writer acknowledges must
        // not vanish with a directory entry a power cut never saw (the crash sweep found it).
        if view == nil { try backend.syncEveryLevel(of: path) }
        lock = try LockFile(path: path + "/lock", writable: true, fileMode: fileMode)
        try lock.lockForWriting(timeout: 0)
        guard let view else { return }
        removeOtherGenerations(keeping: view.generation)
        (generation, previousGeneration, latest, pageSize, end, uuid) = (view.generation, view.generation, view.latest, view.pageSize, view.end, view.uuid)
        let index = try backend.open(path + "/" + CurrentFile.indexName(generation), create: false, readOnly: true)
        defer { index.close() }
        indexCount = Int(try index.length()) / IndexRecord.size
        file = try backend.open(path + "/" + CurrentFile.dataName(generation), create: false, readOnly: false)
    }

    /// Starts writing generation `number` from its first byte, into a temporary file that
    /// `finishGeneration()` puts in place (the current generation stays readable until then).
    package func beginGeneration(_ number: UInt64, pageSize: Int) throws {
        precondition(number > generation || latest == nil, "generations only move forward")
        file?.close()
        let temporary = path + "/" + CurrentFile.dataName(number) + ".tmp"
        let created = try backend.open(temporary, create: true, readOnly: false)
        try created.truncate(to: 0)
        (file, generation, latest, end, indexCount, self.pageSize) = (created, number, nil, 0, 0, pageSize)
        pending = []
    }

    /// Index records of a generation being written, put in place by `finishGeneration()`.
    private var pending: [IndexRecord] = []

    /// Appends `bytes` (which start at byte `end` of the generation being written and end at
    /// the record of `commits.last`, all verified by the caller). For the current generation it
    /// makes them durable, appends their index records and publishes them to readers; a new
    /// generation's bytes are made durable once, by `finishGeneration()`, before its file is
    /// renamed into place.
    package func append(_ bytes: [UInt8], commits: [CommitPoint]) throws {
        guard let file else { throw CowDBError.invalidArgument("replica \(path): no generation begun") }
        let newEnd = end + UInt64(bytes.count)
        if let last = commits.last { precondition((last.page + 1) * UInt64(pageSize) == newEnd, "bytes must end at a commit") }
        if end == 0, bytes.count >= FileHeader.encodedSize {
            uuid = try bytes.withUnsafeBytes { try FileHeader.decode($0, path: path) }.uuid
        }
        try file.truncate(to: end) // nothing past the last commit written survives
        try bytes.withUnsafeBytes { try file.write($0, at: end) }
        // The current generation's readers may see these bytes once published: sync first. A
        // generation being written is synced once, whole, by `finishGeneration`.
        if generation == previousGeneration { try file.sync() }
        let records = commits.map { IndexRecord(commit: $0.record, page: $0.page, synced: true) }
        end = newEnd
        latest = commits.last ?? latest
        if generation == previousGeneration {
            try appendIndex(records)
            publish()
        } else {
            pending += records
        }
    }

    /// Puts the generation begun by `beginGeneration` in place: its data file renamed, its
    /// index written, `CURRENT` naming it, the previous generation's files removed, published.
    package func finishGeneration() throws {
        guard generation != previousGeneration else { return }
        let name = CurrentFile.dataName(generation)
        try file?.sync()
        try backend.rename(path + "/" + name + ".tmp", path + "/" + name)
        try backend.syncDirectory(path)
        try? backend.unlink(path + "/" + CurrentFile.indexName(generation))
        try appendIndex(pending)
        pending = []
        if generation > 1 || backend.exists(path + "/" + CurrentFile.name) {
            try Database.replaceFile(CurrentFile.name, in: path, with: CurrentFile.encode(generation: generation), backend: backend)
        }
        if previousGeneration != 0 {
            try? backend.unlink(path + "/" + CurrentFile.dataName(previousGeneration))
            try? backend.unlink(path + "/" + CurrentFile.indexName(previousGeneration))
        }
        previousGeneration = generation
        try backend.syncDirectory(path)
        publish()
    }

    /// Replaces the tags file with `encoded` (a tags file's bytes), or removes it (nil).
    package func writeTags(_ encoded: [UInt8]?) throws {
        if let encoded {
            try Database.replaceFile(Database.tagsName, in: path, with: encoded, backend: backend)
        } else if backend.exists(path + "/" + Database.tagsName) {
            try backend.unlink(path + "/" + Database.tagsName)
            try backend.syncDirectory(path)
        }
    }

    /// The bytes of the last commit record's page (nil before the first commit).
    package func lastCommitPage() throws -> [UInt8]? {
        guard let latest, let file else { return nil }
        var page = [UInt8](repeating: 0, count: pageSize)
        let read = try page.withUnsafeMutableBytes { try file.read(into: $0, at: latest.page * UInt64(pageSize)) }
        return read == pageSize ? page : nil
    }

    /// Removes what an interrupted switch of generations left (a replica may skip several
    /// generations at once, past what a writer's open removes): `data.N.tmp` files, and the
    /// data and index files of every generation but `current`. Only this writer writes here.
    private func removeOtherGenerations(keeping current: UInt64) {
        let keep: Set<String> = [CurrentFile.dataName(current), CurrentFile.indexName(current)]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where !keep.contains(name) {
            let parts = name.split(separator: ".")
            let isGenerationFile = (parts.first == "data" || parts.first == "index") && parts.count >= 2 && parts.count <= 3
                && UInt64(parts[1]) != nil && (parts.count == 2 || parts[2] == "tmp")
            let isFirstGeneration = (name == "data" || name == "index") && current > 1
            if isGenerationFile || isFirstGeneration || name == "data.tmp" { try? backend.unlink(path + "/" + name) }
        }
    }

    /// Releases the lock and the files (a generation begun and not finished is left as a
    /// `.tmp` file, which the next writer's open removes).
    package func close() {
        file?.close()
        file = nil
        lock.close()
    }

    /// Appends `records` to the current generation's index and syncs it.
    private func appendIndex(_ records: [IndexRecord]) throws {
        guard !records.isEmpty else { return }
        let index = try backend.open(path + "/" + CurrentFile.indexName(generation), create: true, readOnly: false)
        defer { index.close() }
        let bytes = records.flatMap(\.encoded)
        try index.truncate(to: UInt64(indexCount * IndexRecord.size))
        try bytes.withUnsafeBytes { try index.write($0, at: UInt64(indexCount * IndexRecord.size)) }
        try index.sync()
        indexCount += records.count
    }

    /// Announces the last commit to read-only processes (and wakes their feeds).
    private func publish() {
        guard let latest else { return }
        lock.publish(version: latest.record.version, commitPage: latest.page, generation: generation, indexCount: indexCount)
    }
}
