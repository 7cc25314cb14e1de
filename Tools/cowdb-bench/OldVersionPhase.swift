// old_version_reads: CowDB's gets at the version 1,000 commits before the latest, on a tree of
// the latest's shape, with values that differ from the latest's, checked against the values
// the bench itself wrote (never against what CowDB reads back elsewhere); and
// latest_version_reads, the same gets at the latest version of the same database, the
// reference the old version's reads are held to.
import CowDB

/// The overwrite commits made before the old-version reads: `commits` commits of `perCommit`
/// random bulk-loaded keys each (at least N/10 overwrites in all), every value with its first
/// 8 bytes replaced by its commit's stamp. Overwrites keep the tree's shape (same keys, same
/// value sizes), so the version read has the same shape as the latest, but ~N/20 keys hold
/// other values there.
struct OverwriteSchedule {
    /// How many commits the version read lies behind the latest.
    static let behind = 1000

    /// The data set.
    let data: Dataset
    /// Overwrite commits in all: `behind` before the version read and `behind` after it.
    let commits = 2 * OverwriteSchedule.behind
    /// Keys overwritten per commit.
    let perCommit: Int

    /// The schedule of `plan`.
    init(plan: Plan) {
        data = plan.data
        perCommit = max(1, (plan.scale / 10 + commits - 1) / commits)
    }

    /// The pairs commit `commit` overwrites.
    func keys(of commit: Int) -> [Int] {
        (0 ..< perCommit).map { slot in
            Int(mix((data.seed ^ 0x0DD0_BE45) &+ UInt64(commit * perCommit + slot)) % UInt64(data.count))
        }
    }

    /// The stamp of the values commit `commit` writes.
    func stamp(_ commit: Int) -> UInt64 { mix((data.seed ^ 0x57A3_9D00) &+ UInt64(commit)) }

    /// The byte sum `randomGets(data, picks)` must return after the first `applied` commits,
    /// computed from the data set and this schedule.
    func expectedGetSum(_ picks: Range<Int>, after applied: Int) -> UInt64 {
        var stamps: [Int: UInt64] = [:]
        for commit in 0 ..< applied {
            for i in keys(of: commit) { stamps[i] = stamp(commit) }
        }
        var buffers = PairBuffers(), sum: UInt64 = 0
        for j in picks {
            let i = data.pick(j, stream: 1)
            buffers.load(i, from: data)
            if let stamp = stamps[i] { buffers.stamp(stamp) }
            sum &+= buffers.value.withUnsafeBytes { byteSum($0) }
        }
        return sum
    }
}

extension PhaseRunner {
    /// CowDB only, on a copy of the database the write phase left: the overwrite commits of
    /// `OverwriteSchedule` (no syncs), then N random gets at the latest version and N at the
    /// version 1,000 commits before it. Fails the run unless each returns exactly what its
    /// version must hold.
    mutating func oldVersionReads() throws {
        guard E.self == CowDBEngine.self else { return }
        let data = plan.data, n = plan.scale
        let schedule = OverwriteSchedule(plan: plan)
        var fast = DatabaseOptions()
        fast.durability = .none
        fast.automaticCompaction = nil // the phase builds history as trees, then measures its own compactions
        let cowdb = try CowDBEngine(directory: directory, options: fast)
        for commit in 0 ..< schedule.commits {
            try cowdb.overwrite(schedule.keys(of: commit), of: data, stamp: schedule.stamp(commit))
        }
        let latest = cowdb.database.latestVersion
        let old = latest - UInt64(OverwriteSchedule.behind)
        let version = plan.misreadOldVersion ? latest : old
        // The same gets at the latest version of this database first: the reference the old
        // version's reads are held to (same tree shape, same page-cache state, same process).
        let latestSum = try timed(.latestVersionReads, operations: n, repeats: plan.readRepeats) {
            try randomGets(data, 0 ..< n) { try cowdb.read(at: latest, $0) }
        }
        let sum = try timed(.oldVersionReads, operations: n, repeats: plan.readRepeats) {
            try randomGets(data, 0 ..< n) { try cowdb.read(at: version, $0) }
        }
        try cowdb.close()

        // Checked after the timing, so that the expected sums' memory is not in the row's peak.
        let expected = schedule.expectedGetSum(0 ..< n, after: schedule.commits - OverwriteSchedule.behind)
        let atLatest = schedule.expectedGetSum(0 ..< n, after: schedule.commits)
        guard expected != atLatest else {
            throw EngineError(description: "old_version_reads: version \(old) and the latest hold the same byte sum \(expected); a wrong-version read would go unnoticed")
        }
        guard latestSum == atLatest else {
            throw EngineError(description: "latest_version_reads: the gets at version \(latest) returned byte sum \(latestSum ?? 0), but it holds \(atLatest)")
        }
        guard sum == expected else {
            throw EngineError(description: "old_version_reads: the gets at version \(version) returned byte sum \(sum ?? 0), but version \(old) holds \(expected) (the latest, \(latest), holds \(atLatest)): a read returned another version's values")
        }
        log(.oldVersionReads, "byte sum \(expected) is version \(old)'s (\(schedule.commits * schedule.perCommit) overwrites in \(schedule.commits) commits; the latest's is \(atLatest))")
    }
}
