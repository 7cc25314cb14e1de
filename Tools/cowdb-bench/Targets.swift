// The issue's targets, checked against a run's figures.
import Foundation

extension Report {
    /// The issue's targets, each with the figure reached and whether it is met (only those
    /// whose rows were run).
    func targets() -> String {
        var lines: [String] = []
        func add(_ name: String, _ value: Double?, _ goal: String, format: String = "%.2f", _ met: (Double) -> Bool) {
            if let line = targetLine(name, value, goal, format: format, met) { lines.append(line) }
        }
        func ops(_ w: Workload, _ e: EngineKind) -> Double? { find(w, e)?.operationsPerSecond }
        let n = grouped(scale)
        add("random gets warm, CowDB/LMDB", ratio(.randomReadsWarm), "≥ 1.5") { $0 >= 1.5 }
        add("random range reads, CowDB/LMDB", ratio(.randomRangeReads), "≥ 1.2") { $0 >= 1.2 }
        if let old = ops(.oldVersionReads, .cowdb), let latest = ops(.latestVersionReads, .cowdb) {
            add("gets 1,000 commits old / gets at the latest, same database (same tree shape, other values)", old / latest, "≥ 0.95") { $0 >= 0.95 }
        }
        add("bulk load, CowDB/LMDB", ratio(.bulkLoad), "≥ 1.0") { $0 >= 1.0 }
        add("individual durable commits, CowDB/LMDB", ratio(.individualWrites), "≥ 2.0") { $0 >= 2.0 }
        if let c = ops(.individualWrites, .cowdb), let q = ops(.individualWrites, .sqlite), q > 0 {
            add("individual durable commits, CowDB/SQLite (WAL, synchronous=FULL)", c / q, "≥ 1.3") { $0 >= 1.3 }
        }
        lines += concurrentWriteTargets()
        add("batch commits, CowDB/LMDB", ratio(.batchWrites), "≥ 1.0") { $0 >= 1.0 }
        add("removals at N = \(n), CowDB/LMDB", ratio(.removals), "≥ 1.0 at N = 1,000,000 and 200,000") { $0 >= 1.0 }
        if let c2 = ops(.randomReads2Threads, .cowdb), let c1 = ops(.randomReadsWarm, .cowdb),
           let l2 = ops(.randomReads2Threads, .lmdb), let l1 = ops(.randomReadsWarm, .lmdb) {
            add("2-thread/1-thread scaling, CowDB's over LMDB's", (c2 / c1) / (l2 / l1), "≥ 0.95") { $0 >= 0.95 }
        }
        if let c = find(.sizeAfterLoad, .cowdb)?.bytes, let l = find(.sizeAfterLoad, .lmdb)?.bytes, l > 0 {
            add("size after bulk load, CowDB/LMDB", Double(c) / Double(l), "≤ 1.2") { $0 <= 1.2 }
        }
        lines += memoryTargets()
        if let open = find(.openWithHistory, .cowdb), let seconds = open.seconds {
            let commits = grouped(open.commits ?? 0)
            add("open with history of \(commits) commits, ms", seconds * 1000, "≤ 50 at 100,000 commits") { $0 <= 50 }
        }
        if let diff = find(.diff, .cowdb), let seconds = diff.seconds {
            add("diff across the last 100 single-key commits (\(diff.checksum ?? 0) changed keys, N = \(n)), ms", seconds * 1000,
                "≤ 5 for 100 changed keys at N = 1,000,000") { $0 <= 5 }
        }
        lines += packedHistoryTargets()
        lines += versusSQLite()
        return lines.joined(separator: "\n")
    }

    /// Issue 14's group-commit targets: CowDB's durable commits from 4 threads at once against
    /// its own single-thread ones, and against LMDB's and SQLite's from 4 threads in the same run.
    private func concurrentWriteTargets() -> [String] {
        func ops(_ w: Workload, _ e: EngineKind) -> Double? { find(w, e)?.operationsPerSecond }
        guard let cowdb = ops(.concurrentWrites, .cowdb) else { return [] }
        var lines: [String?] = []
        if let single = ops(.individualWrites, .cowdb), single > 0 {
            lines.append(targetLine("concurrent durable commits (4 threads) / CowDB's individual_writes", cowdb / single, "≥ 3.0") { $0 >= 3 })
        }
        for other in [EngineKind.lmdb, .sqlite] {
            guard let theirs = ops(.concurrentWrites, other), theirs > 0 else { continue }
            lines.append(targetLine("concurrent durable commits (4 threads), CowDB/\(other.title)", cowdb / theirs, "≥ 2.0") { $0 >= 2 })
        }
        return lines.compactMap { $0 }
    }

    /// Issue 13's packed-history targets, on the history database compacted keeping every
    /// version: its size, gets and range reads at an old version (against CowDB's own at the
    /// latest in the same run), the compaction's write rate (against dd's) and a diff.
    private func packedHistoryTargets() -> [String] {
        func cowdb(_ w: Workload) -> Measurement? { find(w, .cowdb) }
        var lines: [String?] = []
        if let packed = cowdb(.historyPackedBytes), let bytes = packed.bytes, let changed = packed.references?["changed_pairs_bytes"],
           let fresh = packed.references?["fresh_load_bytes"] {
            lines.append(targetLine("history of \(grouped(packed.commits ?? 0)) single-key commits kept whole, directory bytes / (2 × changed pairs' + a fresh load's)",
                                    Double(bytes) / (2 * changed + fresh), "≤ 1") { $0 <= 1 })
        }
        if let packed = cowdb(.packedVersionReads)?.operationsPerSecond, let warm = cowdb(.randomReadsWarm)?.operationsPerSecond, warm > 0 {
            lines.append(targetLine("gets at an old version of the kept history / CowDB's random_reads_warm", packed / warm, "≥ 0.25") { $0 >= 0.25 })
        }
        if let packed = cowdb(.packedVersionRangeReads)?.operationsPerSecond, let ranges = cowdb(.randomRangeReads)?.operationsPerSecond, ranges > 0 {
            lines.append(targetLine("range reads at an old version of the kept history / CowDB's random_range_reads", packed / ranges, "≥ 0.1") { $0 >= 0.1 })
        }
        if let pack = cowdb(.packRate), let rate = pack.operationsPerSecond, let dd = pack.references?["dd_mb_per_second"], dd > 0 {
            lines.append(targetLine(String(format: "compaction keeping every version, write rate / dd's (%.1f of %.1f MB/s)", rate, dd),
                                    rate / dd, "≥ 0.5") { $0 >= 0.5 })
        }
        if let diff = cowdb(.packedDiff100), let seconds = diff.seconds {
            lines.append(targetLine("diff across 100 old versions of the kept history (\(diff.checksum ?? 0) changed keys), milliseconds",
                                    seconds * 1000, "≤ 50 milliseconds") { $0 <= 50 })
        }
        return lines.compactMap { $0 }
    }

    /// CowDB's peak anonymous memory in each workload LMDB also ran: at most 1.25 × LMDB's + 16 MiB.
    private func memoryTargets() -> [String] {
        Workload.allCases.compactMap { workload in
            guard let c = find(workload, .cowdb)?.peakRSSAnonBytes, let l = find(workload, .lmdb)?.peakRSSAnonBytes else { return nil }
            let mib = 1048576.0
            let limit = 1.25 * Double(l) / mib + 16
            let met = Double(c) / mib <= limit
            return String(format: "%@ peak anonymous memory of %@, MiB: %.1f (target ≤ 1.25 × LMDB's %.1f + 16 = %.1f)",
                          met ? "met    " : "MISSED ", workload.rawValue, Double(c) / mib, Double(l) / mib, limit)
        }
    }

    /// Whether CowDB beats SQLite in every row both ran.
    private func versusSQLite() -> [String] {
        let rows = Workload.allCases.compactMap { w -> Bool? in
            guard let c = find(w, .cowdb), let q = find(w, .sqlite) else { return nil }
            switch w.measure {
            case .throughput: return (c.operationsPerSecond ?? 0) > (q.operationsPerSecond ?? 0)
            case .size: return (c.bytes ?? .max) < (q.bytes ?? 0)
            case .latency: return (c.seconds ?? .infinity) < (q.seconds ?? 0)
            }
        }
        guard !rows.isEmpty else { return [] }
        let better = rows.filter { $0 }.count
        return ["\(better == rows.count ? "met    " : "MISSED ") rows where CowDB beats SQLite: \(better) of \(rows.count)"]
    }
}

/// A target's line: met or MISSED, its name, the figure reached and the goal; nil without a figure.
private func targetLine(_ name: String, _ value: Double?, _ goal: String, format: String = "%.2f", _ met: (Double) -> Bool) -> String? {
    guard let value else { return nil }
    return "\(met(value) ? "met    " : "MISSED ") \(name): \(String(format: format, value)) (target \(goal))"
}

/// `n` with commas between groups of three digits ("1,000,000").
func grouped(_ n: Int) -> String {
    var digits = String(n.magnitude), groups: [Substring] = []
    while digits.count > 3 {
        groups.insert(digits.suffix(3), at: 0)
        digits.removeLast(3)
    }
    groups.insert(Substring(digits), at: 0)
    return (n < 0 ? "-" : "") + groups.joined(separator: ",")
}
