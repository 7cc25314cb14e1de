import CowDBFormat
import CowDBStorage
import Foundation

// Where a read starts: a `ReadSource` (map, commit, page reader) for the latest version, a
// version by number or by time. The state lock and the generation's head lock are each held
// for a few loads; the index look-up and the check of an old commit record (mapped memory,
// which can fault pages in) run on a view taken under the head lock, with no lock held.

extension Database {
    /// The source for the latest version; a read-only process first picks up what a writer
    /// in another process published (one seqlock read of the shared page, no system call).
    func currentSource() throws -> ReadSource {
        if options.readOnly { try refreshFromWriter() }
        let generation = try currentGeneration()
        let (latest, mapping) = generation.current()
        return makeSource(generation, latest, mapping: mapping)
    }

    /// The source for a given version.
    func source(at version: UInt64) throws -> ReadSource {
        if options.readOnly { try refreshFromWriter() }
        let (generation, view) = try openView()
        return try source(at: version, in: generation, view)
    }

    /// The sources of two versions, taken from one view of one generation: a compaction
    /// switching generations between two look-ups must not pair pages of two files (a diff
    /// skips subtrees by page number).
    func sources(at first: UInt64, _ second: UInt64) throws -> (ReadSource, ReadSource) {
        let (old, new, _) = try sourcesAndView(at: first, second)
        return (old, new)
    }

    /// `sources(at:_:)`, and the generation and view they come from (for more look-ups in
    /// the same generation: a diff from a packed version reads its change index and a later
    /// tree diff, which must not mix two generations).
    func sourcesAndView(at first: UInt64, _ second: UInt64) throws -> (ReadSource, ReadSource, (Generation, GenerationView)) {
        if options.readOnly { try refreshFromWriter() }
        let (generation, view) = try openView()
        return (try source(at: first, in: generation, view), try source(at: second, in: generation, view), (generation, view))
    }

    /// The source for `version` in `view` of `generation`.
    func source(at version: UInt64, in generation: Generation, _ view: GenerationView) throws -> ReadSource {
        if version == 0 { return makeSource(generation, nil, mapping: view.mapping) }
        guard let latest = view.latest, version <= latest.record.version, let position = try view.index.position(of: version) else {
            throw CowDBError.versionNotFound(version)
        }
        return try makeSource(generation, record: try view.index.record(position), view)
    }

    /// The source for the version of index record `record` of `view`: its commit's trees, or
    /// for a packed version, the history tree of the pack commit that holds it.
    func makeSource(_ generation: Generation, record: IndexRecord, _ view: GenerationView) throws -> ReadSource {
        var source = makeSource(generation, try view.commit(for: record), mapping: view.mapping)
        if record.isPacked {
            source.packed = PackedVersion(historyRoot: source.commit?.record.catalogRoot ?? 0, version: record.version, timestamp: record.timestamp,
                                          totalCount: record.totalCount)
        }
        return source
    }

    /// The source for the last version at or before `date`.
    func source(asOf date: Date) throws -> ReadSource {
        if options.readOnly { try refreshFromWriter() }
        let nanoseconds = nanosecondsSince1970(date)
        let (generation, view) = try openView()
        guard view.latest != nil, let position = try view.index.position(asOf: nanoseconds) else {
            throw CowDBError.noVersionAsOf(nanosecondsSince1970: nanoseconds)
        }
        return try makeSource(generation, record: try view.index.record(position), view)
    }

    /// The current generation; throws `closed` once the database is closed.
    func currentGeneration() throws -> Generation {
        try state.withLock { state in
            guard !state.closed else { throw CowDBError.closed }
            return state.generation
        }
    }

    /// The current generation and a view of its head and index; throws `closed`.
    func openView() throws -> (Generation, GenerationView) {
        let generation = try currentGeneration()
        return (generation, generation.view())
    }

    /// A source over `mapping` bounded by `commit`.
    func makeSource(_ generation: Generation, _ commit: CommitPoint?, mapping: MappedRegion) -> ReadSource {
        let limit = commit?.page ?? 1
        return ReadSource(mapping: mapping, commit: commit,
                          pages: generation.store.reader(mapping, limit: max(limit, 1), everyRead: options.checksumVerification == .everyRead),
                          verifiedPages: generation.store.verifiedPages)
    }

    /// Read-only processes: adopt the latest commit a writer published, if newer (moving to
    /// the generation it switched to first, when it compacted).
    func refreshFromWriter() throws {
        var generation = try currentGeneration()
        guard let published = lockFile.published() else { return }
        if published.generation != generation.number, published.generation > 0 {
            try adoptGeneration(published.generation)
            generation = try currentGeneration()
        }
        // A newer compaction may have removed the generation announced before it could be
        // adopted: keep reading the current one; the next read adopts the newest.
        guard published.generation == generation.number else { return }
        try generation.follow(published)
    }
}
