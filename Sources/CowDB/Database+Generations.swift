import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

// Generations: compaction writes the database anew into the next generation's files
// (`data.G`, `index.G`) and switches to them by renaming a `CURRENT` file naming G. These
// helpers open a generation, clean up what an interrupted compaction or switch left, and
// swap a running database over to a new generation.

extension Database {
    /// The lock file of the instance that writes a new generation during compaction.
    static let compactionLockName = "compact.lock"

    /// Opens the data file and index of `generation` (default: the one `CURRENT` names). A
    /// read-only process may race a compaction that removes the generation it just read from
    /// `CURRENT`: it reads `CURRENT` again.
    static func openGeneration(path: String, backend: any StorageBackend, options: DatabaseOptions,
                               generation: UInt64?) throws -> (PageStore, RootLog) {
        var attempts = 0
        while true {
            let current = try generation ?? CurrentFile.read(in: path, backend: backend)
            do {
                let store = try PageStore(backend: backend, directory: path, readOnly: options.readOnly,
                                          minimumReservation: options.mapReservation, name: CurrentFile.dataName(current))
                guard store.header.generation == current else {
                    store.file.close()
                    throw CowDBError.corrupt(page: 0, offset: 32, reason: "\(CurrentFile.dataName(current)) holds generation \(store.header.generation), CURRENT names \(current)")
                }
                let log = try RootLog(backend: backend, directory: path, readOnly: options.readOnly,
                                      name: CurrentFile.indexName(current), dataName: CurrentFile.dataName(current))
                return (store, log)
            } catch let CowDBError.io(_, _, code) where code == ENOENT && generation == nil && attempts < 100 {
                attempts += 1 // a compaction switched generations between our reads
                usleep(1000)
            }
        }
    }

    /// Removes what an interrupted compaction (the next generation's files) or an
    /// interrupted switch (the previous generation's files, `CURRENT.tmp`) left behind.
    static func removeLeftovers(path: String, generation: UInt64, backend: any StorageBackend) throws {
        var names = [CurrentFile.temporaryName, compactionLockName,
                     CurrentFile.dataName(generation + 1), CurrentFile.indexName(generation + 1),
                     CurrentFile.dataName(generation + 1) + ".tmp"]
        if generation >= 2 { names += [CurrentFile.dataName(generation - 1), CurrentFile.indexName(generation - 1)] }
        for name in names where backend.exists(path + "/" + name) { try backend.unlink(path + "/" + name) }
    }
}
