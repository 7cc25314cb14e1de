import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

// Compaction: the database written anew into the next generation's files, keeping only the
// versions a retention policy selects, then an atomic switch (the rename of `CURRENT`).
//
// The oldest kept version is copied whole, its trees built bottom-up from its entries in key
// order (`TreeBuilder`: full pages, large sequential writes, no inserts or splits); each
// later kept version is written as its difference from the previous kept one (found by the
// diff walk, which skips shared subtrees), committed under its own number and time. Pages
// that kept versions share in the old file are therefore shared in the new one too: a page
// common to 50 kept versions is written once. The copy runs beside the writer; at the end,
// under the writer gate, the commits made meanwhile are carried over the same way and the
// database switches generations. Readers and snapshots already open keep the old file's map
// (the file is unlinked, not overwritten), read-only processes see the new generation in the
// lock file and reopen.

/// What a compaction did.
public struct CompactionReport: Sendable, Equatable {
    /// Versions the database held, counting the commits made while the compaction ran.
    public let versionsBefore: Int
    /// Versions the new generation holds (those the policy kept, and those carried over).
    public let versionsKept: Int
    /// Commits made while compaction ran, carried over before the switch.
    public let versionsCarriedOver: Int
    /// The old data file's length up to its last commit, in bytes.
    public let bytesBefore: UInt64
    /// The new data file's length up to its last commit, in bytes.
    public let bytesAfter: UInt64
    /// The generation now current.
    public let generation: UInt64
    /// Wall-clock time of the whole compaction.
    public let seconds: Double
}

extension Database {
    /// Rewrites the database keeping only the versions `policy` selects (always the latest),
    /// with their numbers and timestamps, into the next generation, and switches to it
    /// atomically. Runs while readers read and the writer commits (commits made meanwhile are
    /// carried over). Reading a dropped version afterwards throws `versionNotFound`.
    /// Waits for a compaction of this instance already running (an automatic one) to end
    /// first. Throws `readOnly` on a read-only instance.
    ///
    /// `packing` says which kept versions go into the packed history tree
    /// (docs/PACKED-HISTORY.md), where a version costs about what its changes cost instead of
    /// its own tree pages; versions packed before stay packed whatever it says.
    @discardableResult
    public func compact(keeping policy: RetentionPolicy = RetentionPolicy(), packing: Packing = .none) throws -> CompactionReport {
        if options.readOnly { throw CowDBError.readOnly }
        let run = CompactionRun(started: OS.monotonicSeconds())
        while !compacting.withLock({ running in defer { running = true }; return !running }) { OS.sleep(microseconds: 2_000) }
        defer { compacting.withLock { $0 = false } }

        let generation = store.header.generation
        // The versions to keep, read from the index by position (no list of every version).
        let tags = try readTags()
        let index = try currentGeneration().view().index
        let kept = try policy.select(count: index.count, version: { try index.record($0).version },
                                     timestamp: { try index.record($0).timestamp }, tags: tags)
        let versionCount = index.count
        let bytesBefore = ((try index.last()?.commitPage ?? 0) + 1) * UInt64(store.layout.pageSize)
        guard versionCount > 0 else {
            // Nothing committed: nothing to keep or drop, and no new generation.
            let bytes = UInt64(store.layout.pageSize)
            return CompactionReport(versionsBefore: 0, versionsKept: 0, versionsCarriedOver: 0, bytesBefore: bytes, bytesAfter: bytes,
                                    generation: generation, seconds: OS.monotonicSeconds() - run.started)
        }
        run.mark("\(versionCount) versions, \(kept.count) kept")
        let target = try compactionTarget(generation: generation + 1)
        run.mark("new generation created")
        var switched = false
        defer { if !switched { discard(target, generation: generation + 1) } }

        // 1. The kept versions: the oldest ones packed, if any, then the oldest tree whole,
        //    each later one as its difference.
        try copy(kept, packing: try packing.count(of: kept, packedBefore: index), run, into: target)
        // What the kept versions take: automatic compaction measures growth from here, so the
        // commits carried over below count as growth (a fast writer's are packed next time).
        let keptLength = ((target.generation.current().latest?.page ?? 0) + 1) * UInt64(store.layout.pageSize)
        // 2. Catch up with what the writer committed meanwhile, without stopping it, until
        //    little is left.
        try catchUp(run, into: target)

        // 3. Under the writer gate: carry over the last commits, make the new files durable,
        //    switch `CURRENT`, adopt the new generation.
        return try withWriterGate { latest, _ in
            for version in try newer(than: run.previous) { try carry(version, run, into: target, countingAsCarried: true) }
            run.mark("caught up (\(run.carried) carried over)")
            try target.generation.makeDurable()
            try target.close()
            // From here the new files are kept whatever happens: once `CURRENT.tmp` may have
            // been renamed they may be the database.
            switched = true
            try switchGenerations(to: generation + 1, run)
            let after = try self.versions()
            compactedLength.store(keptLength, ordering: .relaxed)
            return CompactionReport(versionsBefore: versionCount + run.carried, versionsKept: after.count,
                                    versionsCarriedOver: run.carried, bytesBefore: max(bytesBefore, ((latest?.page ?? 0) + 1) * UInt64(store.layout.pageSize)),
                                    bytesAfter: after.last?.fileLength ?? UInt64(store.layout.pageSize),
                                    generation: generation + 1, seconds: OS.monotonicSeconds() - run.started)
        }
    }

    /// Step 1 of a compaction: the first `packCount` of `kept` packed, the others carried.
    private func copy(_ kept: [UInt64], packing packCount: Int, _ run: CompactionRun, into target: Database) throws {
        if packCount > 0 {
            try target.commitPack(Array(kept.prefix(packCount)), of: self, next: kept[packCount])
            run.mark("\(packCount) versions packed")
        }
        for version in kept.dropFirst(packCount) { try carry(version, run, into: target, countingAsCarried: false) }
        run.mark("kept versions copied")
    }

    /// A second instance that writes generation `generation`'s files (`compact.lock`).
    private func compactionTarget(generation: UInt64) throws -> Database {
        var targetOptions = options
        targetOptions.durability = .none
        targetOptions.readOnly = false
        targetOptions.lockTimeout = 0
        targetOptions.automaticCompaction = nil
        return try Database(path: path, options: targetOptions, backend: backend,
                            target: GenerationTarget(uuid: store.header.uuid, generation: generation))
    }

    /// Closes and removes an unfinished compaction's new generation.
    private func discard(_ target: Database, generation: UInt64) {
        try? target.close()
        for name in [CurrentFile.dataName(generation), CurrentFile.indexName(generation), Database.compactionLockName] {
            try? backend.unlink(path + "/" + name)
        }
    }

    /// The versions committed after `previous`: only the tail after it (a binary search
    /// finds it), not the whole index.
    private func newer(than previous: UInt64?) throws -> [UInt64] {
        let index = try currentGeneration().view().index
        let start = try previous.flatMap { try index.position(of: $0) }.map { $0 + 1 } ?? 0
        return try (start ..< index.count).map { try index.record($0).version }.filter { $0 > (previous ?? 0) }
    }

    /// Carries over what the writer commits meanwhile, in rounds. Rounds stop when the
    /// backlog stops shrinking (a writer committing faster than compaction carries commits
    /// over): the last round, under the gate, is then bounded.
    private func catchUp(_ run: CompactionRun, into target: Database) throws {
        var lastBacklog = Int.max
        for _ in 0 ..< 8 {
            let backlog = try newer(than: run.previous)
            guard backlog.count > 4, backlog.count < lastBacklog else { break }
            lastBacklog = backlog.count
            for version in backlog { try carry(version, run, into: target, countingAsCarried: true) }
        }
    }

    /// Carries `version` into `target` after the previous one carried.
    private func carry(_ version: UInt64, _ run: CompactionRun, into target: Database, countingAsCarried: Bool) throws {
        try carry(version, after: run.previous, into: target)
        run.previous = version
        if countingAsCarried { run.carried += 1 }
    }

    /// Renames `CURRENT` to name generation `generation` (durable already), adopts it, and
    /// removes the old generation's files. Under the writer gate. A failure also stops this
    /// writer (as a failed sync does): it cannot know which generation a reopen will find, and
    /// a commit into the old one could be lost behind the new `CURRENT`.
    private func switchGenerations(to generation: UInt64, _ run: CompactionRun) throws {
        do {
            try Database.replaceFile(CurrentFile.name, in: path, with: CurrentFile.encode(generation: generation), backend: backend)
            run.mark("synced and switched")
            try adoptGeneration(generation)
        } catch {
            self.generation.poison("compaction failed while switching generations (\(error)); reopen the database")
            throw error
        }
        for name in [CurrentFile.dataName(generation - 1), CurrentFile.indexName(generation - 1), Database.compactionLockName] {
            try? backend.unlink(path + "/" + name)
        }
    }

    /// Commits version `version` of this database into `target` under its own number and
    /// time: whole when `previous` is nil, else as its difference from `previous`.
    private func carry(_ version: UInt64, after previous: UInt64?, into target: Database) throws {
        let info = try read(at: version) { txn in (txn.source.commit?.record.timestamp ?? 0, txn.source.commit?.record.rolledBackFrom) }
        let forced = WriteTransaction.ForcedCommit(version: version, timestamp: info.0, rolledBackFrom: info.1)
        guard let previous else {
            // Whole: every tree built bottom-up from the map, in key order (Database+BuildVersion.swift).
            try target.commitBuilt(forced, copying: version, of: self)
            return
        }
        let before = Set(try read(at: previous) { try $0.keyspaces() })
        let after = Set(try read(at: version) { try $0.keyspaces() })
        try target.write(forced: forced) { out in
            for name in before.subtracting(after).sorted() { try out.dropKeyspace(name) }
            for name in after.subtracting(before).sorted() { _ = try out.createKeyspace(name) }
            try diffAllKeyspaces(from: previous, to: version) { changes in
                var iterator = changes.makeIterator()
                while let change = try iterator.nextOrThrow() {
                    if let name = change.keyspace, !after.contains(name) { continue }
                    let keyspace = try change.keyspace.map { try out.keyspace($0) } ?? out.defaultKeyspace
                    if let value = change.newValue {
                        try keyspace.put(change.key, value)
                    } else {
                        _ = try keyspace.delete(change.key)
                    }
                }
            }
        }
    }

    // MARK: Automatic compaction

    /// Whether the file has grown enough since the last compaction (by `growthFraction` of
    /// the kept versions' length then, and `minimumGrowth` bytes); the first call only notes the length.
    func hasGrown(_ automatic: AutomaticCompaction) -> Bool {
        let length = ((generation.current().latest?.page ?? 0) + 1) * UInt64(pageSize)
        let base = compactedLength.load(ordering: .relaxed)
        if base == .max { compactedLength.store(length, ordering: .relaxed) }
        return automatic.growthFraction.map { fraction in
            base != .max && length > base + max(automatic.minimumGrowth, UInt64(Double(base) * fraction))
        } ?? false
    }

    /// Back-pressure (`AutomaticCompaction.stallFactor`, off by default), after a commit and
    /// outside the writer gate: while an automatic compaction runs and the file has grown past
    /// `stallFactor` times the growth that triggers one, the writer waits for it (as LSM stores
    /// stall writes when compaction falls behind), so that a writer faster than packing cannot
    /// grow the file without bound while a pack runs.
    func waitWhilePackingFallsBehind() {
        guard let automatic = options.automaticCompaction, let fraction = automatic.growthFraction,
              let stallFactor = automatic.stallFactor else { return }
        while automaticCheckRunning.load(ordering: .acquiring) {
            let base = compactedLength.load(ordering: .relaxed)
            guard base != .max else { return }
            let length = ((generation.current().latest?.page ?? 0) + 1) * UInt64(pageSize)
            let allowed = UInt64(max(1, stallFactor)) * max(automatic.minimumGrowth, UInt64(Double(base) * fraction))
            guard length > base + allowed else { return }
            OS.sleep(microseconds: 1_000)
        }
    }

    /// After a commit: when the file has grown enough since the last compaction, or every
    /// `checkEveryCommits` commits to measure the live data, maybe compact, in a background
    /// thread (never two at once).
    func considerAutomaticCompaction() {
        guard let automatic = options.automaticCompaction, !options.readOnly else { return }
        let grown = hasGrown(automatic)
        let measure = automatic.fileToLiveRatio != nil
            && commitsSinceCheck.add(1, ordering: .relaxed).newValue >= max(1, automatic.checkEveryCommits)
        guard grown || measure else { return }
        // A check or compaction still running: try again after the next commit.
        guard compacting.withLock({ !$0 }),
              automaticCheckRunning.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        commitsSinceCheck.store(0, ordering: .relaxed)
        let thread = Thread { [self] in
            defer { automaticCheckRunning.store(false, ordering: .releasing) }
            do {
                if !grown {
                    let stats = try self.stats()
                    guard Double(stats.fileBytes - min(stats.fileBytes, stats.reserveBytes)) > (automatic.fileToLiveRatio ?? .infinity) * Double(max(stats.liveBytes, UInt64(self.pageSize))) else { return }
                }
                // Again while the commits carried over meanwhile are growth enough (a writer
                // faster than compaction), so that they too are packed once the writer pauses.
                repeat {
                    try self.compact(keeping: automatic.policy, packing: automatic.packing)
                } while grown && self.hasGrown(automatic)
            } catch {
                // A closed database, a compaction already running, an I/O error: the next
                // check tries again; the database itself is unaffected.
            }
        }
        thread.start()
    }
}

/// One compaction's progress.
private final class CompactionRun {
    /// When it started (monotonic seconds).
    let started: Double
    /// Whether COWDB_COMPACTION_TRACE is set.
    let trace = ProcessInfo.processInfo.environment["COWDB_COMPACTION_TRACE"] != nil
    /// The last version carried into the new generation.
    var previous: UInt64?
    /// Versions committed while compaction ran, carried over.
    var carried = 0

    /// Starts at `started`.
    init(started: Double) { self.started = started }

    /// With COWDB_COMPACTION_TRACE set: the time since the start at each step, on stderr.
    func mark(_ step: String) {
        if trace { FileHandle.standardError.write(Data(String(format: "compaction: %@ at %.3f s\n", step, OS.monotonicSeconds() - started).utf8)) }
    }
}
