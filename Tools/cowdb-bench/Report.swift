// The results: one measurement per workload and engine, printed as a table and written as JSON.
import Foundation

/// One figure of one engine on one workload; the fields that do not apply are nil (null in JSON).
struct Measurement: Codable, Sendable {
    /// The workload's name.
    var workload: Workload
    /// "cowdb", "lmdb" or "sqlite".
    var engine: String
    /// Wall-clock seconds (for `open_with_history`: the median open time).
    var seconds: Double?
    /// Operations per second (pairs, commits, gets or ranges: see `Workload.unit`).
    var operationsPerSecond: Double?
    /// Bytes on disk (sizes), or appended per commit.
    var bytes: UInt64?
    /// Peak `RssAnon` of the child process during the workload.
    var peakRSSAnonBytes: UInt64?
    /// Byte sum of everything read (or, for removals, how many keys existed): equal across
    /// engines when they return the same data.
    var checksum: UInt64?

    enum CodingKeys: String, CodingKey {
        case workload, engine, seconds, bytes, checksum
        case operationsPerSecond = "ops_per_second"
        case peakRSSAnonBytes = "peak_rss_anon_bytes"
    }

    /// Encodes every field, nil ones as null (the synthesized encoder would leave them out).
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(workload, forKey: .workload)
        try container.encode(engine, forKey: .engine)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(operationsPerSecond, forKey: .operationsPerSecond)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(peakRSSAnonBytes, forKey: .peakRSSAnonBytes)
        try container.encode(checksum, forKey: .checksum)
    }
}

/// The whole run, in the shape of `--json FILE`.
struct Report: Codable, Sendable {
    /// N.
    var scale: Int
    /// The machine, the filesystem and its sync latency.
    var machine: String
    /// Every measurement.
    var results: [Measurement]

    /// The JSON text (keys sorted, indented).
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The measurement of `engine` on `workload`, if run.
    func find(_ workload: Workload, _ engine: EngineKind) -> Measurement? {
        results.first { $0.workload == workload && $0.engine == engine.rawValue }
    }

    /// Workloads whose checksums differ between engines (each engine must read the same
    /// bytes), with the differing sums.
    func checksumMismatches() -> [String] {
        var problems: [String] = []
        for workload in Workload.allCases {
            let sums = results.filter { $0.workload == workload && $0.checksum != nil }
            if Set(sums.map(\.checksum)).count > 1 {
                problems.append("\(workload.rawValue): " + sums.map { "\($0.engine) \($0.checksum!)" }.joined(separator: ", "))
            }
        }
        return problems
    }

    // MARK: Table

    /// The table: a row per workload, a column per engine, then CowDB/LMDB (>1: CowDB better;
    /// for sizes and times, LMDB's figure over CowDB's, so >1 still means CowDB better).
    func table(engines: [EngineKind]) -> String {
        var lines: [[String]] = [["workload", "unit"] + engines.map(\.title) + ["CowDB/LMDB"]]
        for workload in Workload.allCases where results.contains(where: { $0.workload == workload }) {
            var cells = [workload.rawValue, workload.unit]
            for engine in engines { cells.append(find(workload, engine).map { Report.figure($0) } ?? "–") }
            cells.append(ratio(workload).map { String(format: "%.2f", $0) } ?? "")
            lines.append(cells)
        }
        var memory: [[String]] = [["peak anonymous memory (MiB)", ""] + engines.map(\.title) + ["CowDB/LMDB"]]
        for workload in Workload.allCases {
            let rows = engines.map { find(workload, $0)?.peakRSSAnonBytes }
            guard rows.contains(where: { $0 != nil }) else { continue }
            var cells = [workload.rawValue, "MiB"]
            cells += rows.map { $0.map { String(format: "%.1f", Double($0) / 1048576) } ?? "–" }
            if let c = find(workload, .cowdb)?.peakRSSAnonBytes, let l = find(workload, .lmdb)?.peakRSSAnonBytes, c > 0 {
                cells.append(String(format: "%.2f", Double(l) / Double(c)))
            } else {
                cells.append("")
            }
            memory.append(cells)
        }
        return Report.render(lines) + "\n" + Report.render(memory)
    }

    /// CowDB/LMDB for a row, oriented so that > 1 means CowDB is better.
    func ratio(_ workload: Workload) -> Double? {
        guard let c = find(workload, .cowdb), let l = find(workload, .lmdb) else { return nil }
        switch workload.measure {
        case .throughput:
            guard let a = c.operationsPerSecond, let b = l.operationsPerSecond, b > 0 else { return nil }
            return a / b
        case .size:
            guard let a = c.bytes, let b = l.bytes, a > 0 else { return nil }
            return Double(b) / Double(a)
        case .latency:
            guard let a = c.seconds, let b = l.seconds, a > 0 else { return nil }
            return b / a
        }
    }

    /// The issue's targets, each with the figure reached and whether it is met (only those
    /// whose rows were run).
    func targets(dirtyPageBudget: Int) -> String {
        var lines: [String] = []
        func add(_ name: String, _ value: Double?, _ goal: String, format: String = "%.2f", _ met: (Double) -> Bool) {
            guard let value else { return }
            lines.append("\(met(value) ? "met    " : "MISSED ") \(name): \(String(format: format, value)) (target \(goal))")
        }
        func ops(_ w: Workload, _ e: EngineKind) -> Double? { find(w, e)?.operationsPerSecond }
        add("random gets warm, CowDB/LMDB", ratio(.randomReadsWarm), "≥ 1.5") { $0 >= 1.5 }
        add("random range reads, CowDB/LMDB", ratio(.randomRangeReads), "≥ 1.2") { $0 >= 1.2 }
        if let old = ops(.oldVersionReads, .cowdb), let warm = ops(.randomReadsWarm, .cowdb) {
            add("gets 1,000 commits old / CowDB warm gets", old / warm, "≥ 0.95") { $0 >= 0.95 }
        }
        add("bulk load, CowDB/LMDB", ratio(.bulkLoad), "≥ 1.0") { $0 >= 1.0 }
        add("individual durable commits, CowDB/LMDB", ratio(.individualWrites), "≥ 1.5") { $0 >= 1.5 }
        add("batch commits, CowDB/LMDB", ratio(.batchWrites), "≥ 1.0") { $0 >= 1.0 }
        add("removals, CowDB/LMDB", ratio(.removals), "≥ 1.0") { $0 >= 1.0 }
        if let c2 = ops(.randomReads2Threads, .cowdb), let c1 = ops(.randomReadsWarm, .cowdb),
           let l2 = ops(.randomReads2Threads, .lmdb), let l1 = ops(.randomReadsWarm, .lmdb) {
            add("2-thread/1-thread scaling, CowDB's over LMDB's", (c2 / c1) / (l2 / l1), "≥ 0.95") { $0 >= 0.95 }
        }
        if let c = find(.sizeAfterLoad, .cowdb)?.bytes, let l = find(.sizeAfterLoad, .lmdb)?.bytes, l > 0 {
            add("size after bulk load, CowDB/LMDB", Double(c) / Double(l), "≤ 1.2") { $0 <= 1.2 }
        }
        if let peak = find(.bulkLoad, .cowdb)?.peakRSSAnonBytes {
            let limit = Double(dirtyPageBudget + (100 << 20)) / 1048576
            add("peak anonymous memory of the bulk load, MiB", Double(peak) / 1048576, String(format: "≤ %.0f", limit), format: "%.1f") { $0 <= limit }
        }
        if let open = find(.openWithHistory, .cowdb)?.seconds {
            add("open with history, ms", open * 1000, "≤ 50 at 100,000 commits", format: "%.2f") { $0 <= 50 }
        }
        if let diff = find(.diff, .cowdb)?.seconds {
            add("diff across 100 single-key commits, ms", diff * 1000, "milliseconds", format: "%.2f") { $0 < 100 }
        }
        let versusSQLite = Workload.allCases.compactMap { w -> Bool? in
            guard let c = find(w, .cowdb), let q = find(w, .sqlite) else { return nil }
            switch w.measure {
            case .throughput: return (c.operationsPerSecond ?? 0) > (q.operationsPerSecond ?? 0)
            case .size: return (c.bytes ?? .max) < (q.bytes ?? 0)
            case .latency: return (c.seconds ?? .infinity) < (q.seconds ?? 0)
            }
        }
        if !versusSQLite.isEmpty {
            let better = versusSQLite.filter { $0 }.count
            lines.append("\(better == versusSQLite.count ? "met    " : "MISSED ") rows where CowDB beats SQLite: \(better) of \(versusSQLite.count)")
        }
        return lines.joined(separator: "\n")
    }

    /// A measurement's main figure in the row's unit.
    static func figure(_ m: Measurement) -> String {
        switch m.workload.measure {
        case .throughput: return m.operationsPerSecond.map { String(format: "%.0f", $0) } ?? "–"
        case .latency: return m.seconds.map { String(format: "%.2f", $0 * 1000) } ?? "–"
        case .size:
            guard let bytes = m.bytes else { return "–" }
            return m.workload == .bytesPerCommit ? "\(bytes)" : String(format: "%.1f", Double(bytes) / 1048576)
        }
    }

    /// Lays out rows as a Markdown table with aligned columns.
    static func render(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            "| " + cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                return index < 2 ? cell + pad : pad + cell
            }.joined(separator: " | ") + " |"
        }
        let rule = "| " + widths.enumerated().map { index, width in
            index < 2 ? String(repeating: "-", count: width) : String(repeating: "-", count: width - 1) + ":"
        }.joined(separator: " | ") + " |"
        return ([line(rows[0]), rule] + rows.dropFirst().map(line)).joined(separator: "\n") + "\n"
    }
}
