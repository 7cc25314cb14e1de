// The workloads themselves, generic over the engine, run inside a child process.
import CowDB
import Foundation

/// Runs one phase of the workloads on one engine and records a measurement per row.
struct PhaseRunner<E: Engine> {
    /// The sizes of the run.
    let plan: Plan
    /// The engine's directory.
    let directory: String
    /// This process's memory sampler.
    let sampler: MemorySampler
    /// The measurements so far.
    var results: [Measurement] = []

    /// A runner for `directory`.
    init(plan: Plan, directory: String, sampler: MemorySampler) {
        self.plan = plan
        self.directory = directory
        self.sampler = sampler
    }

    /// The engine's name in the JSON.
    var engineName: String {
        E.self == CowDBEngine.self ? EngineKind.cowdb.rawValue : E.self == LMDBEngine.self ? EngineKind.lmdb.rawValue : EngineKind.sqlite.rawValue
    }

    /// Runs `phase`.
    mutating func run(_ phase: Phase) throws {
        switch phase {
        case .load: try load()
        case .write: try writeMore()
        case .read: try readAll()
        case .oldVersion: try oldVersionReads()
        case .remove: try removeHalf()
        case .history: try history()
        case .compaction: try historyToCompact()
        }
    }

    // MARK: Phases

    /// The bulk load of N pairs in one transaction, and the size it leaves (engine closed).
    private mutating func load() throws {
        let data = plan.data, n = plan.scale
        let engine = try E(directory: directory)
        try timed(.bulkLoad, operations: n) { try engine.write(0 ..< n, of: data); return nil }
        try engine.close()
        record(.sizeAfterLoad, bytes: Disk.footprint(of: directory))
    }

    /// Single-pair durable commits of new pairs, then the same from 4 threads at once, then
    /// batch commits of new pairs, each timed in `writeRounds` rounds; CowDB's bytes appended
    /// (data and index) per single-pair commit.
    private mutating func writeMore() throws {
        let data = plan.data, n = plan.scale
        let engine = try E(directory: directory)
        let bytesBefore = try (engine as? CowDBEngine)?.bytesWritten()
        let single = n ..< n + plan.individualWrites
        try timedRounds(.individualWrites, commits: single, operationsPerCommit: 1) { commits in
            for i in commits { try engine.write(i ..< i + 1, of: data) }
        }
        if let cowdb = engine as? CowDBEngine, let bytesBefore {
            let appended = try cowdb.bytesWritten() - bytesBefore
            record(.bytesPerCommit, bytes: appended / UInt64(max(1, single.count)), commits: single.count)
        }
        let concurrent = single.upperBound ..< single.upperBound + ConcurrentWrites.threads * plan.concurrentWritesPerThread
        try concurrentWrites(engine, pairs: concurrent)
        let batches = concurrent.upperBound, batchSize = plan.batchSize
        try timedRounds(.batchWrites, commits: 0 ..< plan.batchWrites, operationsPerCommit: batchSize) { commits in
            for b in commits {
                let start = batches + b * batchSize
                try engine.write(start ..< start + batchSize, of: data)
            }
        }
        try engine.close()
    }

    /// Random gets cold (page cache dropped, fresh open) and warm, range reads, and gets from
    /// two threads.
    private mutating func readAll() throws {
        let data = plan.data, n = plan.scale
        Disk.dropCache(under: directory)
        let engine = try E(directory: directory)
        try timed(.randomReads, operations: n) { try randomGets(data, 0 ..< n) { try engine.read($0) } }
        let repeats = plan.readRepeats
        try timed(.randomReadsWarm, operations: n, repeats: repeats) { try randomGets(data, 0 ..< n) { try engine.read($0) } }
        try timed(.randomRangeReads, operations: n / 2, repeats: repeats) { try rangeReads(data, 0 ..< n / 2) { try engine.read($0) } }

        let other = try engine.handleForAnotherThread()
        try timed(.randomReads2Threads, operations: n, repeats: repeats) {
            try twoThreads(engine, other) { handle, half in
                try randomGets(data, half == 0 ? 0 ..< n / 2 : n / 2 ..< n) { try handle.read($0) }
            }
        }
        if other !== engine { try other.close() }
        try engine.close()
    }

    /// Removes half the bulk-loaded keys in one transaction; then the size.
    private mutating func removeHalf() throws {
        let data = plan.data, n = plan.scale
        let engine = try E(directory: directory)
        try timed(.removals, operations: n / 2) { UInt64(try engine.remove(0 ..< n / 2, of: data)) }
        try engine.close()
        record(.sizeAfterRemovals, bytes: Disk.footprint(of: directory))
    }

    /// CowDB only: builds a database of `historyCommits` single-pair commits (without syncs, to
    /// build it fast), then times opening it (the median of 5 opens).
    private mutating func history() throws {
        guard E.self == CowDBEngine.self else { return }
        let data = plan.data
        var fast = DatabaseOptions()
        fast.durability = .none
        fast.automaticCompaction = nil // the phase builds history as trees, then measures its own compactions
        let built = try CowDBEngine(directory: directory, options: fast)
        for i in 0 ..< plan.historyCommits { try built.write(i ..< i + 1, of: data) }
        try built.close()

        sampler.reset()
        var opens: [Double] = [], commits = 0
        for _ in 0 ..< 5 {
            var opened: CowDBEngine?
            opens.append(try Clock.measure { opened = try CowDBEngine(directory: directory) })
            commits = Int(try opened?.database.versions().count ?? 0) // the versions the open found
            try opened?.close()
        }
        let median = opens.sorted()[2]
        results.append(Measurement(workload: .openWithHistory, engine: engineName, seconds: median, operationsPerSecond: nil,
                                   bytes: Disk.footprint(of: directory), peakRSSAnonBytes: sampler.peakBytes(), checksum: nil,
                                   commits: commits))
        log(.openWithHistory, String(format: "%.2f ms (median of 5) with %d commits", median * 1000, commits))
    }

    /// CowDB only: N/10 pairs loaded, then N single-pair overwrite commits (no syncs) — at the
    /// default N, the history issue's 1,000,000 commits on a 100,000-key database. Times a
    /// diff across the last 100 commits; then compaction keeping every version (the packed-
    /// history rows, `PackedHistoryPhase.swift`); then compaction to the latest version, and
    /// compares the result with a fresh load of the same data and the disk's sequential write
    /// speed.
    private mutating func historyToCompact() throws {
        guard E.self == CowDBEngine.self else { return }
        let schedule = HistorySchedule(plan: plan)
        var fast = DatabaseOptions()
        fast.durability = .none
        fast.automaticCompaction = nil // the phase builds history as trees, then measures its own compactions
        let db = try Database(path: directory, options: fast)
        var buffers = PairBuffers()
        try db.write { txn in
            for i in 0 ..< schedule.keys {
                buffers.load(i, from: schedule.data)
                try txn.put(buffers.key, buffers.value)
            }
        }
        let loaded = db.latestVersion
        for commit in 0 ..< schedule.commits {
            buffers.load(schedule.key(of: commit), from: schedule.data)
            buffers.stamp(UInt64(commit))
            try db.write { try $0.put(buffers.key, buffers.value) }
        }
        try diffLast100(db, keys: schedule.keys)
        let packed = try packHistory(db, schedule, loaded: loaded)
        let freshBytes = try compactToLatest(db)
        recordPackedBytes(packed, freshBytes: freshBytes, schedule)
    }

    /// The `diff` row: a diff across the last 100 commits of the history database (up to 100
    /// keys changed).
    private mutating func diffLast100(_ db: Database, keys: Int) throws {
        let latest = db.latestVersion
        sampler.reset()
        var changes = 0, pages = 0
        let seconds = try Clock.measure {
            try db.diff(from: latest - 100, to: latest) { sequence in
                for _ in sequence { changes += 1 }
                pages = try sequence.pagesVisited
            }
        }
        results.append(Measurement(workload: .diff, engine: engineName, seconds: seconds, operationsPerSecond: Double(changes) / seconds,
                                   bytes: UInt64(pages * db.pageSize), peakRSSAnonBytes: sampler.peakBytes(), checksum: UInt64(changes)))
        log(.diff, String(format: "%.2f ms for %d changed keys over 100 commits of a %d-key database, %d pages visited", seconds * 1000, changes, keys, pages))
    }

    /// The `compaction` row: compaction of the history database to its latest version, against
    /// a fresh load of the same data and dd; closes `db`. Returns the fresh load's data file bytes.
    private mutating func compactToLatest(_ db: Database) throws -> UInt64 {
        sampler.reset()
        let report = try db.compact(keeping: .latestOnly)
        let peak = sampler.peakBytes()
        let fresh = directory + "-fresh"
        try db.copy(to: fresh) // the latest version loaded in one transaction, in key order
        try db.close()
        let freshBytes = try Database(path: fresh).versions().last?.fileLength ?? 1
        try? FileManager.default.removeItem(atPath: fresh)
        let written = Double(report.bytesAfter)
        let speed = written / report.seconds
        let disk = Disk.sequentialWriteSpeed(in: directory, bytes: max(64 << 20, Int(report.bytesAfter)))
        results.append(Measurement(workload: .compaction, engine: engineName, seconds: report.seconds, operationsPerSecond: speed / 1e6,
                                   bytes: report.bytesAfter, peakRSSAnonBytes: peak, checksum: nil))
        log(.compaction, String(format: "%llu → %llu bytes (%.2f× a fresh load of %llu bytes) in %.2f s: %.1f MB/s written, %.0f%% of dd's %.1f MB/s",
                                report.bytesBefore, report.bytesAfter, written / Double(freshBytes), freshBytes, report.seconds,
                                speed / 1e6, disk > 0 ? 100 * speed / disk : 0, disk / 1e6))
        return freshBytes
    }

    // MARK: Recording

    /// Times `body` (which returns a checksum of what it read, or nil) and records the row:
    /// the fastest of `repeats` runs (reads only: they leave the store as it was), which
    /// must all return the same checksum, with the spread of all runs when there are several.
    @discardableResult
    mutating func timed(_ workload: Workload, operations: Int, repeats: Int = 1, _ body: () throws -> UInt64?) throws -> UInt64? {
        sampler.reset()
        var times: [Double] = [], checksum: UInt64?
        let processorBefore = Clock.processorTime()
        for run in 0 ..< max(1, repeats) {
            let start = Clock.now()
            let sum = try body()
            times.append(Clock.now() - start)
            if run > 0, sum != checksum { throw EngineError(description: "\(workload.rawValue) read different bytes on run \(run + 1)") }
            checksum = sum
        }
        let seconds = times.min() ?? 0, peak = sampler.peakBytes()
        let processor = (Clock.processorTime() - processorBefore) / Double(times.count)
        let spread = times.count > 1 ? Measurement.Spread(times.map { Double(operations) / $0 }) : nil
        results.append(Measurement(workload: workload, engine: engineName, seconds: seconds,
                                   operationsPerSecond: Double(operations) / seconds, bytes: nil,
                                   peakRSSAnonBytes: peak, checksum: checksum, spread: spread, cpuSeconds: processor))
        log(workload, String(format: "%.3f s, %.0f ops/s, peak anon %.1f MiB, CPU %.3f s per run", seconds, Double(operations) / seconds,
                             Double(peak) / 1048576, processor)
            + (spread.map { String(format: "; runs %.0f / %.0f / %.0f", $0.min, $0.median, $0.max) } ?? ""))
        return checksum
    }

    /// Times durable commits `commits` in `plan.writeRounds` consecutive rounds (`body` makes
    /// the commits it is given) and records the row: every commit's operations over the total
    /// time, with the spread of the rounds.
    private mutating func timedRounds(_ workload: Workload, commits: Range<Int>, operationsPerCommit: Int,
                                      _ body: (Range<Int>) throws -> Void) throws {
        sampler.reset()
        let rounds = max(1, min(plan.writeRounds, commits.count))
        var rates: [Double] = [], total = 0.0
        let processorBefore = Clock.processorTime()
        for round in 0 ..< rounds {
            let part = commits.lowerBound + commits.count * round / rounds ..< commits.lowerBound + commits.count * (round + 1) / rounds
            let seconds = try Clock.measure { try body(part) }
            total += seconds
            rates.append(Double(part.count * operationsPerCommit) / seconds)
        }
        let operations = commits.count * operationsPerCommit, peak = sampler.peakBytes()
        let processor = Clock.processorTime() - processorBefore
        let spread = Measurement.Spread(rates)
        results.append(Measurement(workload: workload, engine: engineName, seconds: total,
                                   operationsPerSecond: Double(operations) / total, bytes: nil, peakRSSAnonBytes: peak,
                                   checksum: nil, spread: spread, commits: commits.count, cpuSeconds: processor))
        log(workload, String(format: "%d commits in %.3f s, %.0f ops/s (rounds %.0f / %.0f / %.0f), peak anon %.1f MiB, CPU %.3f s",
                             commits.count, total, Double(operations) / total, spread.min, spread.median, spread.max,
                             Double(peak) / 1048576, processor))
    }

    /// Records a row that is a size.
    private mutating func record(_ workload: Workload, bytes: UInt64, commits: Int? = nil) {
        results.append(Measurement(workload: workload, engine: engineName, seconds: nil, operationsPerSecond: nil,
                                   bytes: bytes, peakRSSAnonBytes: nil, checksum: nil, commits: commits))
        log(workload, "\(bytes) bytes")
    }

    /// One progress line on standard error.
    func log(_ workload: Workload, _ text: String) {
        FileHandle.standardError.write(Data("  \(engineName) \(workload.rawValue): \(text)\n".utf8))
    }
}

// MARK: Read loops

/// Runs `perPick` for every `j` in `picks`, 1,000 per read transaction (opened by
/// `transaction`); returns the sum of what it returned.
func inReadTransactions<Reader: EngineReader>(_ picks: Range<Int>,
                                              transaction: ((inout Reader) throws -> UInt64) throws -> UInt64,
                                              _ perPick: (Int, inout Reader) throws -> UInt64) throws -> UInt64 {
    // Both closures are only called during this function (the compiler cannot see that one
    // is called inside the other without this).
    try withoutActuallyEscaping(perPick) { perPick in
        var sum: UInt64 = 0
        var j = picks.lowerBound
        while j < picks.upperBound {
            let end = min(j + 1000, picks.upperBound)
            sum &+= try transaction { reader in
                var partial: UInt64 = 0
                for pick in j ..< end { partial &+= try perPick(pick, &reader) }
                return partial
            }
            j = end
        }
        return sum
    }
}

/// Gets the `j`-th random pick for every `j` in `picks`, 1,000 per read transaction; returns
/// the byte sum of every value. A missing key is an error.
func randomGets<Reader: EngineReader>(_ data: Dataset, _ picks: Range<Int>,
                                      transaction: ((inout Reader) throws -> UInt64) throws -> UInt64) throws -> UInt64 {
    var buffers = PairBuffers()
    return try inReadTransactions(picks, transaction: transaction) { pick, reader in
        buffers.loadKey(data.pick(pick, stream: 1), from: data)
        guard let valueSum = try reader.get(buffers.key) else {
            throw EngineError(description: "key of pair \(data.pick(pick, stream: 1)) not found")
        }
        return valueSum
    }
}

/// Reads 10 entries from each random start key for every `j` in `picks`, 1,000 ranges per read
/// transaction; returns the byte sum of every key and value.
func rangeReads<Reader: EngineReader>(_ data: Dataset, _ picks: Range<Int>,
                                      transaction: ((inout Reader) throws -> UInt64) throws -> UInt64) throws -> UInt64 {
    var buffers = PairBuffers()
    return try inReadTransactions(picks, transaction: transaction) { pick, reader in
        buffers.loadKey(data.pick(pick, stream: 2), from: data)
        return try reader.range(from: buffers.key, count: 10)
    }
}

/// Runs `body(first, 0)` and `body(second, 1)` on two threads at once; returns the sum of
/// their results (rethrows the first error).
func twoThreads<E: Engine>(_ first: E, _ second: E, _ body: @escaping @Sendable (E, Int) throws -> UInt64) throws -> UInt64 {
    try onThreads(2) { index in try body(index == 0 ? first : second, index) }
}
