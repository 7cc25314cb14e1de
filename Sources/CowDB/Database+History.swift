import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

// Rollback and tags: history features that need no copying. A rollback is one commit record
// repeating an old version's roots (a packed version has none: its state is copied into new
// trees); tags live in a small file beside the data file.

extension Database {
    static let tagsName = "tags"
    static let tagsTemporaryName = "tags.tmp"

    // MARK: Rollback

    /// Makes the content of `version` the latest state by appending one commit whose roots
    /// are that version's: O(1), nothing is copied, and every version in between stays
    /// readable. A packed version has no trees to repeat: its state is built into new trees
    /// in the commit, O(state), as compaction copies a version. Version 0 restores the empty
    /// database. Rolling back to the latest version commits nothing. Returns the version that
    /// now holds the content.
    ///
    /// ```swift
    /// let before = db.latestVersion
    /// try db.write { try $0.put(Array("oops".utf8), Array("bad".utf8)) }
    /// try db.rollback(to: before)   // a new version, equal in content to `before`
    /// ```
    @discardableResult
    public func rollback(to version: UInt64) throws -> UInt64 {
        try withWriterGate { latest, _ in
            guard let latest else {
                guard version == 0 else { throw CowDBError.versionNotFound(version) }
                return 0
            }
            guard version != latest.record.version else { return version }
            let generation = self.generation
            let target: CommitPoint?
            if version == 0 {
                target = nil
            } else {
                let view = generation.view()
                guard version < latest.record.version, let position = try view.index.position(of: version) else {
                    throw CowDBError.versionNotFound(version)
                }
                let record = try view.index.record(position)
                if record.isPacked { return try rollback(toPacked: try makeSource(generation, record: record, view), in: generation) }
                target = try view.commit(for: record)
            }
            // The same commit as a write's, with no page but the record: the roots are the
            // old version's (a packed version's are built, below).
            let region = try generation.beginCommit(verifyEveryRead: options.checksumVerification == .everyRead)
            let point = try commit(region, in: generation, stamp: .rollback(to: version)) { CommitRoots(of: target?.record) }
            return point.record.version
        }
    }

    /// A rollback to a packed version, which has no trees to repeat: the commit's trees are
    /// built bottom-up from its state (O(state), as compaction copies a version). Under the
    /// writer gate.
    private func rollback(toPacked source: ReadSource, in generation: Generation) throws -> UInt64 {
        let region = try generation.beginCommit(verifyEveryRead: options.checksumVerification == .everyRead,
                                                bufferBytes: Self.buildBufferBytes)
        let point = try commit(region, in: generation, stamp: .rollback(to: source.version)) {
            let txn = ReadTransaction(source: source)
            defer { txn.invalidate() }
            return try Self.buildTrees(of: txn, into: region.appender)
        }
        return point.record.version
    }

    /// The version a rollback commit restored, or nil when `version` is an ordinary commit
    /// (or a packed version: a pack does not keep where a version's content came from).
    public func rolledBackFrom(version: UInt64) throws -> UInt64? {
        try read(at: version) { $0.source.packed == nil ? $0.source.commit?.record.rolledBackFrom : nil }
    }

    // MARK: Tags

    /// Names `version` (durably; setting an existing name moves it). Tags live outside the
    /// versioned trees: every version sees the same tags. Compaction keeps tagged versions.
    public func tag(_ name: String, version: UInt64) throws {
        guard Tags.isValidName(name) else { throw CowDBError.invalidTagName(name) }
        try withWriterGate { latest, _ in
            let known = version == 0 ? true : try generation.view().index.position(of: version) != nil
            guard version <= (latest?.record.version ?? 0), known else { throw CowDBError.versionNotFound(version) }
            // The tagged version must be on disk before a durable tag can name it.
            if options.durability == .none { try generation.syncData() }
            var tags = try readTags().filter { $0.name != name }
            let now = nanosecondsSince1970(Date())
            tags.append(Tag(name: name, version: version, createdAtNanoseconds: now))
            try writeTags(tags)
        }
    }

    /// Removes a tag; throws `tagNotFound` when there is none of that name.
    public func deleteTag(_ name: String) throws {
        try withWriterGate { _, _ in
            let tags = try readTags()
            guard tags.contains(where: { $0.name == name }) else { throw CowDBError.tagNotFound(name) }
            try writeTags(tags.filter { $0.name != name })
        }
    }

    /// Every tag, sorted by name.
    public func tags() throws -> [Tag] {
        try state.withLock { if $0.closed { throw CowDBError.closed } }
        return try readTags()
    }

    /// The tag of this name, or throws `tagNotFound`.
    public func tag(named name: String) throws -> Tag {
        guard let tag = try tags().first(where: { $0.name == name }) else { throw CowDBError.tagNotFound(name) }
        return tag
    }

    /// Runs `body` in a read transaction on the version a tag names.
    public func read<T>(tag name: String, _ body: (ReadTransaction) throws -> T) throws -> T {
        try read(at: try tag(named: name).version, body)
    }

    /// Reads the tags file (none when it does not exist). Opened directly rather than after an
    /// existence test: only `ENOENT` means "no tags"; any other failure (EIO, EACCES) throws
    /// instead of passing for an empty list.
    func readTags() throws -> [Tag] {
        let tagsPath = path + "/" + Database.tagsName
        let file: any StorageFile
        do {
            file = try backend.open(tagsPath, create: false, readOnly: true)
        } catch let CowDBError.io(_, _, code) where code == OSErrno.noSuchFile {
            return []
        }
        defer { file.close() }
        let length = try file.length()
        guard length <= 64 << 20 else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "tags file \(tagsPath): absurd length \(length)")
        }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        let read = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        return try TagFile.decode(Array(bytes.prefix(read)), path: tagsPath)
    }

    /// Replaces the tags file atomically.
    private func writeTags(_ tags: [Tag]) throws {
        try Database.replaceFile(Database.tagsName, in: path, with: TagFile.encode(tags), backend: backend)
    }

    /// Replaces `directory/name` with `bytes`: write `name.tmp`, sync it, rename it over
    /// `name`, sync the directory — so the file is always either the old or the new one.
    static func replaceFile(_ name: String, in directory: String, with bytes: [UInt8], backend: any StorageBackend) throws {
        try replaceFile(name, in: directory, backend: backend) { file in
            try bytes.withUnsafeBytes { try file.write($0, at: 0) }
        }
    }

    /// Replaces `directory/name` with what `write` puts into a fresh `name.tmp` (synced, then
    /// renamed over `name`, then the directory synced; on failure the temporary file goes).
    /// `beforeRename` runs between the sync and the rename.
    @discardableResult
    static func replaceFile<T>(_ name: String, in directory: String, backend: any StorageBackend,
                               beforeRename: () throws -> Void = {}, _ write: (any StorageFile) throws -> T) throws -> T {
        let temporary = directory + "/" + name + ".tmp"
        let file = try backend.open(temporary, create: true, readOnly: false)
        let result: T
        do {
            try file.truncate(to: 0)
            result = try write(file)
            try file.sync()
            file.close()
        } catch {
            file.close()
            try? backend.unlink(temporary)
            throw error
        }
        try beforeRename()
        try backend.rename(temporary, directory + "/" + name)
        try backend.syncDirectory(directory)
        return result
    }
}
