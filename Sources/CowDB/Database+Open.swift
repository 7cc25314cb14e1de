import CowDBFormat
import CowDBStorage
import Foundation

// Opening a database: the directory and lock file, a new database's first files, then the
// current generation, opened and recovered (`Generation`).

extension Database {
    /// Opens the database at `path`, creating the directory (and its missing parents) and an
    /// empty database when missing (unless `options.readOnly`). A new database syncs every
    /// directory of its path, from its own up to "/" (or the working directory for a relative
    /// path), before `init` returns: a power cut after its first commit is acknowledged cannot
    /// take the path away (directories above it that this process may not read are skipped).
    public convenience init(path: String, options: DatabaseOptions = DatabaseOptions()) throws {
        try self.init(path: path, options: options, backend: POSIXStorage(fileMode: options.fileMode))
    }

    /// Opens the database through a given storage backend (tests inject faults this way).
    public convenience init(path: String, options: DatabaseOptions, backend: any StorageBackend) throws {
        try self.init(path: path, options: options, backend: backend, target: nil)
    }

    /// What compaction creates: a new generation's files in the same directory, with the
    /// database's UUID, written by a second `Database` instance under its own lock file.
    struct GenerationTarget {
        var uuid: UUID
        var generation: UInt64
    }

    /// Where this database's generations live.
    var place: GenerationPlace { Database.place(path: path, options: options, backend: backend) }

    /// Where the generations of a database opened with `options` live. A durable writer keeps
    /// a reserve past the last commit (a compaction target is not durable, so keeps none).
    static func place(path: String, options: DatabaseOptions, backend: any StorageBackend) -> GenerationPlace {
        var place = GenerationPlace(backend: backend, directory: path, readOnly: options.readOnly, mapReservation: options.mapReservation)
        place.keepsReserve = !options.readOnly && options.durability == .full
        return place
    }

    /// Checks what `init` needs before it opens anything: a valid page size and automatic
    /// compaction policy, and the directory (created for a writer) holding a database (for a
    /// read-only process).
    static func prepareDirectory(path: String, options: DatabaseOptions, backend: any StorageBackend) throws {
        guard PageLayout.isValidPageSize(options.pageSize) else {
            throw CowDBError.invalidArgument("page size \(options.pageSize) is not a power of two in 4096...65536")
        }
        // Automatic compaction's errors go unreported: an invalid policy is refused here.
        try options.automaticCompaction?.policy.validate()
        if !options.readOnly, !backend.exists(path) {
            // A new database directory and its missing parents (made durable below, with the
            // new data file).
            try backend.makeDirectory(path)
        }
        guard backend.exists(path) else {
            throw CowDBError.notADatabase(path: path, reason: "no such directory")
        }
        if options.readOnly, !backend.exists(path + "/data"), !backend.exists(path + "/" + CurrentFile.name) {
            throw CowDBError.notADatabase(path: path, reason: "no data file")
        }
    }

    /// A writer's first files: compaction's new generation, or a new database's data file.
    static func createFiles(path: String, options: DatabaseOptions, backend: any StorageBackend, target: GenerationTarget?) throws {
        if let target {
            try backend.unlink(path + "/" + CurrentFile.indexName(target.generation))
            try PageStore.create(backend: backend, directory: path, pageSize: options.pageSize,
                                 name: CurrentFile.dataName(target.generation), uuid: target.uuid, generation: target.generation)
        } else if !backend.exists(path + "/data"), !backend.exists(path + "/" + CurrentFile.name) {
            // A new database: every level of its path durable before its first commit can be
            // acknowledged, whatever created them (this open, an earlier one that failed after
            // its mkdir, or the application's `mkdir -p`).
            try backend.syncEveryLevel(of: path)
            try backend.unlink(path + "/index")
            try PageStore.create(backend: backend, directory: path, pageSize: options.pageSize)
        }
    }

    /// Opens the current generation (or compaction's `target`) and recovers it; a writer
    /// first removes what an interrupted compaction, switch or tags rewrite left.
    static func openGeneration(path: String, options: DatabaseOptions, backend: any StorageBackend,
                               target: GenerationTarget?, lockFile: LockFile) throws -> Generation {
        let files = try GenerationFiles.open(place(path: path, options: options, backend: backend), number: target?.generation)
        if !options.readOnly, target == nil {
            do {
                try removeLeftovers(path: path, generation: files.number, backend: backend)
                // A tags file being rewritten when a writer died: the old `tags` stands.
                try backend.unlink(path + "/" + Database.tagsTemporaryName)
            } catch {
                files.store.file.close()
                files.log.file.close()
                throw error
            }
        }
        return try Generation(recovering: files, lockFile: lockFile)
    }
}
