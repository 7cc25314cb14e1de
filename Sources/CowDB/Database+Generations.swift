import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

// Generations: compaction writes the database anew into the next generation's files
// (`data.G`, `index.G`) and switches to them by renaming a `CURRENT` file naming G. These
// helpers clean up what an interrupted compaction or switch left, and swap a running
// database over to a new generation (`Generation` opens and recovers one).

extension Database {
    /// The lock file of the instance that writes a new generation during compaction.
    static let compactionLockName = "compact.lock"

    /// Switches this instance to generation `number` (already durable and named by
    /// `CURRENT`): opens and recovers it, and swaps it in for new readers (under the writer
    /// gate in a writer; in a read-only instance, whichever reader saw the switch first).
    /// Only a newer generation replaces the current one, and never in a closed database: two
    /// readers of a read-only instance may race to adopt, and a later compaction may have
    /// switched again meanwhile (its files then gone: nothing is adopted, and the next read
    /// sees the newest in the lock file).
    func adoptGeneration(_ number: UInt64) throws {
        guard generation.number < number else { return }
        let adopted: Generation
        do {
            adopted = try Generation.open(place, number: number, lockFile: lockFile)
        } catch let CowDBError.io(_, _, code) where code == OSErrno.noSuchFile && options.readOnly {
            return
        }
        let installed = state.withLock { state -> Bool in
            guard !state.closed, state.generation.number < number else { return false }
            state.generation = adopted
            return true
        }
        if !installed { adopted.closeFiles() }
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
