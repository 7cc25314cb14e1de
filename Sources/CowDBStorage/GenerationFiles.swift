import CowDBFormat

/// The data file and index of one generation, opened but not yet recovered.
package struct GenerationFiles {
    package let place: GenerationPlace
    package let store: PageStore
    package let log: RootLog

    /// Opens the data file and index of generation `number` (default: the one `CURRENT`
    /// names). A read-only process may race a compaction that removes the generation it just
    /// read from `CURRENT`: it reads `CURRENT` again.
    package static func open(_ place: GenerationPlace, number: UInt64?) throws -> GenerationFiles {
        var attempts = 0
        while true {
            let current = try number ?? CurrentFile.read(in: place.directory, backend: place.backend)
            do {
                return try GenerationFiles(place, current)
            } catch let CowDBError.io(_, _, code) where code == OSErrno.noSuchFile && number == nil && attempts < 100 {
                attempts += 1 // a compaction switched generations between our reads
                OS.sleep(microseconds: 1000)
            }
        }
    }

    /// Opens generation `current`'s files; its data file must say it is that generation.
    private init(_ place: GenerationPlace, _ current: UInt64) throws {
        let store = try PageStore(backend: place.backend, directory: place.directory, readOnly: place.readOnly,
                                  minimumReservation: place.mapReservation, name: CurrentFile.dataName(current))
        guard store.header.generation == current else {
            store.file.close()
            throw CowDBError.corrupt(page: 0, offset: 32, reason: "\(CurrentFile.dataName(current)) holds generation \(store.header.generation), CURRENT names \(current)")
        }
        do {
            log = try RootLog(backend: place.backend, directory: place.directory, readOnly: place.readOnly,
                              name: CurrentFile.indexName(current), dataName: CurrentFile.dataName(current))
        } catch {
            store.file.close()
            throw error
        }
        self.place = place
        self.store = store
    }

    /// The generation number.
    package var number: UInt64 { store.header.generation }
}
