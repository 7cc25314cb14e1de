// The packed-history rows (issue 13): the compaction phase's history database (N/10 keys, N
// single-key commits) compacted keeping every version, as `cowdb compact --keep-all` does —
// which packs every version older than the latest into the history store once packing exists,
// and before that keeps every version as trees. Then its size (`history_packed_bytes`), the
// compaction's write rate (`pack_rate`), gets and range reads at the version in the middle of
// the history (`packed_version_reads`, `packed_version_range_reads`) and a diff across 100
// consecutive old versions there (`packed_diff_100`). Every read is checked against the values
// the bench itself wrote, never against what CowDB reads back elsewhere.
import CowDB
import Foundation

/// The history database's commits: one commit loading pairs `0 ..< keys`, then commit `c`
/// (for `c` in `0 ..< commits`) overwriting pair `key(of: c)` with its value whose first 8
/// bytes are `c` (little-endian).
struct HistorySchedule {
    /// The loaded pairs (`count` = keys).
    let data: Dataset
    /// Single-key commits after the load: N.
    let commits: Int
    /// Keys in the database: N/10, at least 100.
    var keys: Int { data.count }

    /// The schedule of `plan`.
    init(plan: Plan) {
        data = Dataset(seed: plan.seed, count: max(100, plan.scale / 10))
        commits = plan.scale
    }

    /// The pair commit `commit` overwrites.
    func key(of commit: Int) -> Int { Int(mix(data.seed ^ 0xD1FF ^ UInt64(commit)) % UInt64(keys)) }

    /// Each pair's value byte sum after the first `applied` commits.
    func valueSums(after applied: Int) -> [UInt64] {
        var last = [Int](repeating: -1, count: keys)
        for commit in 0 ..< applied { last[key(of: commit)] = commit }
        var buffers = PairBuffers()
        return (0 ..< keys).map { i in
            buffers.load(i, from: data)
            if last[i] >= 0 { buffers.stamp(UInt64(last[i])) }
            return buffers.value.withUnsafeBytes { byteSum($0) }
        }
    }

    /// The byte sum `randomGets(data, picks)` must return after the first `applied` commits.
    func expectedGetSum(_ picks: Range<Int>, after applied: Int) -> UInt64 {
        let sums = valueSums(after: applied)
        return picks.reduce(0) { $0 &+ sums[data.pick($1, stream: 1)] }
    }

    /// The byte sum `rangeReads(data, picks)` (`count` entries from each start) must return
    /// after the first `applied` commits: the keys in byte order, from each random start key.
    func expectedRangeSum(_ picks: Range<Int>, count: Int, after applied: Int) -> UInt64 {
        let values = valueSums(after: applied)
        var buffers = PairBuffers(), keyBytes: [[UInt8]] = [], keySums: [UInt64] = []
        for i in 0 ..< keys {
            buffers.loadKey(i, from: data)
            keyBytes.append(buffers.key)
            keySums.append(buffers.key.withUnsafeBytes { byteSum($0) })
        }
        let order = (0 ..< keys).sorted { keyBytes[$0].lexicographicallyPrecedes(keyBytes[$1]) }
        var rank = [Int](repeating: 0, count: keys)
        for (position, i) in order.enumerated() { rank[i] = position }
        return picks.reduce(0) { sum, j in
            let start = rank[data.pick(j, stream: 2)]
            return order[start ..< min(start + count, keys)].reduce(sum) { $0 &+ keySums[$1] &+ values[$1] }
        }
    }

    /// How many distinct keys commits `range` change.
    func changedKeys(_ range: Range<Int>) -> Int { Set(range.map(key(of:))).count }
}

/// What packing left, for `history_packed_bytes` (recorded once the fresh load is measured).
struct PackedSize {
    /// The database directory's bytes on disk after packing.
    let directoryBytes: UInt64
    /// The data file's bytes before packing.
    let dataFileBytesBefore: UInt64
}

extension PhaseRunner {
    /// The one call that packs: compaction keeping every version, what `cowdb compact
    /// --keep-all` does. Adapt here if packing takes a parameter of its own.
    static func packEveryVersion(_ db: Database) throws -> CompactionReport {
        try db.compact(keeping: RetentionPolicy(keepTags: false, keepAll: true), packing: .all)
    }

    /// Packs the history database `db` (the schedule's commits after the load, version
    /// `loaded`), then records `pack_rate`, the reads at the middle version and the diff
    /// across 100 versions from there. Returns what `history_packed_bytes` needs.
    mutating func packHistory(_ db: Database, _ schedule: HistorySchedule, loaded: UInt64) throws -> PackedSize {
        sampler.reset()
        let report = try Self.packEveryVersion(db)
        let peak = sampler.peakBytes()
        let size = PackedSize(directoryBytes: Disk.footprint(of: directory), dataFileBytesBefore: report.bytesBefore)
        recordPackRate(report, peak: peak)
        let middle = schedule.commits / 2 // the version after commits 0 ..< middle
        try packedReads(db, schedule, loaded: loaded, applied: middle)
        try packedDiff(db, schedule, loaded: loaded, from: middle)
        return size
    }

    /// The `pack_rate` row: the data file's bytes after packing over its seconds, in MB/s,
    /// against dd's rate on the same disk: a write of the same size, at least 64 MiB (as the
    /// `compaction` row's) and at most 256 MiB (a history kept as trees is GBs, whose dd would
    /// add seconds to the run; a packed one is tens of MB).
    private mutating func recordPackRate(_ report: CompactionReport, peak: UInt64) {
        let speed = Double(report.bytesAfter) / report.seconds
        let disk = Disk.sequentialWriteSpeed(in: directory, bytes: min(256 << 20, max(64 << 20, Int(report.bytesAfter))))
        results.append(Measurement(workload: .packRate, engine: engineName, seconds: report.seconds, operationsPerSecond: speed / 1e6,
                                   bytes: report.bytesAfter, peakRSSAnonBytes: peak, checksum: nil, commits: report.versionsKept,
                                   references: ["dd_mb_per_second": disk / 1e6]))
        log(.packRate, String(format: "%d versions kept, %llu → %llu bytes in %.2f s: %.1f MB/s written, %.0f%% of dd's %.1f MB/s",
                              report.versionsKept, report.bytesBefore, report.bytesAfter, report.seconds, speed / 1e6,
                              disk > 0 ? 100 * speed / disk : 0, disk / 1e6))
    }

    /// N random gets and N/2 range reads (as `random_reads_warm` and `random_range_reads`) at
    /// the version after the first `applied` commits; fails the run unless each returns exactly
    /// what that version holds.
    private mutating func packedReads(_ db: Database, _ schedule: HistorySchedule, loaded: UInt64, applied: Int) throws {
        let data = schedule.data, n = plan.scale
        let version = loaded + UInt64(applied)
        let read = plan.misreadOldVersion ? db.latestVersion : version
        let gets = try timed(.packedVersionReads, operations: n, repeats: plan.readRepeats) {
            try randomGets(data, 0 ..< n) { try Self.read(db, at: read, $0) }
        }
        let ranges = try timed(.packedVersionRangeReads, operations: n / 2, repeats: plan.readRepeats) {
            try rangeReads(data, 0 ..< n / 2) { try Self.read(db, at: read, $0) }
        }
        // Checked after the timing, so that the expected sums' memory is not in the rows' peaks.
        let expected = schedule.expectedGetSum(0 ..< n, after: applied)
        let atLatest = schedule.expectedGetSum(0 ..< n, after: schedule.commits)
        guard expected != atLatest else {
            throw EngineError(description: "packed_version_reads: version \(version) and the latest hold the same byte sum \(expected); a wrong-version read would go unnoticed")
        }
        guard gets == expected else {
            throw EngineError(description: "packed_version_reads: the gets at version \(read) returned byte sum \(gets ?? 0), but version \(version) holds \(expected) (the latest holds \(atLatest)): a read returned another version's values")
        }
        let expectedRanges = schedule.expectedRangeSum(0 ..< n / 2, count: 10, after: applied)
        guard ranges == expectedRanges else {
            throw EngineError(description: "packed_version_range_reads: the range reads at version \(read) returned byte sum \(ranges ?? 0), but version \(version) holds \(expectedRanges): a read returned another version's values")
        }
        log(.packedVersionReads, "byte sums \(expected) (gets) and \(expectedRanges) (ranges) are version \(version)'s, \(applied) of \(schedule.commits) commits after the load")
    }

    /// The `packed_diff_100` row: a diff from the version after the first `from` commits
    /// across the next 100 (fewer in a shorter history); fails the run unless it finds every
    /// key those commits changed.
    private mutating func packedDiff(_ db: Database, _ schedule: HistorySchedule, loaded: UInt64, from: Int) throws {
        let span = min(100, schedule.commits - from)
        let old = loaded + UInt64(from)
        sampler.reset()
        var changes = 0, pages = 0
        let seconds = try Clock.measure {
            try db.diff(from: old, to: old + UInt64(span)) { sequence in
                for _ in sequence { changes += 1 }
                pages = try sequence.pagesVisited
            }
        }
        let expected = schedule.changedKeys(from ..< from + span)
        guard changes == expected else {
            throw EngineError(description: "packed_diff_100: the diff from version \(old) to \(old + UInt64(span)) found \(changes) changed keys, but those commits changed \(expected)")
        }
        results.append(Measurement(workload: .packedDiff100, engine: engineName, seconds: seconds, operationsPerSecond: Double(changes) / seconds,
                                   bytes: UInt64(pages * db.pageSize), peakRSSAnonBytes: sampler.peakBytes(), checksum: UInt64(changes)))
        log(.packedDiff100, String(format: "%.2f ms for %d changed keys over versions %llu to %llu, %d pages visited",
                                   seconds * 1000, changes, old, old + UInt64(span), pages))
    }

    /// The `history_packed_bytes` row: the directory's bytes after packing, with the changed
    /// pairs' bytes (N × (key + value)) and a fresh load's (`freshBytes`), the target's terms.
    mutating func recordPackedBytes(_ packed: PackedSize, freshBytes: UInt64, _ schedule: HistorySchedule) {
        let changed = UInt64(schedule.commits * (Dataset.keySize + Dataset.valueSize))
        let bound = 2 * changed + freshBytes
        results.append(Measurement(workload: .historyPackedBytes, engine: engineName, seconds: nil, operationsPerSecond: nil,
                                   bytes: packed.directoryBytes, peakRSSAnonBytes: nil, checksum: nil, commits: schedule.commits,
                                   references: ["changed_pairs_bytes": Double(changed), "fresh_load_bytes": Double(freshBytes),
                                                "data_file_bytes_before": Double(packed.dataFileBytesBefore)]))
        log(.historyPackedBytes, String(format: "%llu bytes (data file before: %llu); changed pairs %llu, fresh load %llu: %.2f× (2 × changed + fresh)",
                                        packed.directoryBytes, packed.dataFileBytesBefore, changed, freshBytes,
                                        Double(packed.directoryBytes) / Double(bound)))
    }

    /// Runs `body` in a read transaction of `db` at `version`.
    private static func read(_ db: Database, at version: UInt64, _ body: (inout CowDBEngine.Reader) throws -> UInt64) throws -> UInt64 {
        try db.read(at: version) { txn in
            var reader = CowDBEngine.Reader(transaction: txn)
            return try body(&reader)
        }
    }
}
