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
    /// The operations per second of each repeat (fastest, median, slowest), when the row was
    /// measured more than once.
    var spread: Spread?
    /// The commits the row is about: made (durable-commit rows, `bytes_per_commit`) or in the
    /// database opened (`open_with_history`).
    var commits: Int?
    /// CPU seconds (user and system, all threads of the child) per run of the workload: on a
    /// busy machine it tells computing from waiting (for the disk, or for a core).
    var cpuSeconds: Double?
    /// The figures measured in the same run that the row's target is held to, by name:
    /// `pack_rate`'s `dd_mb_per_second`; `history_packed_bytes`'s `changed_pairs_bytes` and
    /// `fresh_load_bytes` (and `data_file_bytes_before`).
    var references: [String: Double]?

    /// A row; `spread`, `commits`, `cpuSeconds` and `references` only where they apply.
    init(workload: Workload, engine: String, seconds: Double?, operationsPerSecond: Double?, bytes: UInt64?,
         peakRSSAnonBytes: UInt64?, checksum: UInt64?, spread: Spread? = nil, commits: Int? = nil, cpuSeconds: Double? = nil,
         references: [String: Double]? = nil) {
        self.workload = workload
        self.engine = engine
        self.seconds = seconds
        self.operationsPerSecond = operationsPerSecond
        self.bytes = bytes
        self.peakRSSAnonBytes = peakRSSAnonBytes
        self.checksum = checksum
        self.spread = spread
        self.commits = commits
        self.cpuSeconds = cpuSeconds
        self.references = references
    }

    enum CodingKeys: String, CodingKey {
        case workload, engine, seconds, bytes, checksum, spread, commits, references
        case cpuSeconds = "cpu_seconds"
        case operationsPerSecond = "ops_per_second"
        case peakRSSAnonBytes = "peak_rss_anon_bytes"
    }

    /// A row's figure per repeat: `{"min", "median", "max", "runs"}` in operations per second.
    struct Spread: Codable, Sendable {
        /// The slowest repeat.
        var min: Double
        /// The median repeat (the lower middle one for an even count).
        var median: Double
        /// The fastest repeat.
        var max: Double
        /// How many repeats.
        var runs: Int

        /// The spread of `rates` (operations per second, at least one).
        init(_ rates: [Double]) {
            let sorted = rates.sorted()
            min = sorted.first ?? 0
            median = sorted.isEmpty ? 0 : sorted[(sorted.count - 1) / 2]
            max = sorted.last ?? 0
            runs = sorted.count
        }
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
        try container.encode(spread, forKey: .spread)
        try container.encode(commits, forKey: .commits)
        try container.encode(cpuSeconds, forKey: .cpuSeconds)
        try container.encode(references, forKey: .references)
    }
}

/// The whole run, in the shape of `--json FILE`.
struct Report: Codable, Sendable {
    /// N.
    var scale: Int
    /// The engines in the order they ran.
    var order: [String]
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
        return Report.render(lines) + "\n" + Report.render(memory) + spreadTable(engines: engines)
    }

    /// The rows measured more than once: each engine's slowest, median and fastest repeat.
    private func spreadTable(engines: [EngineKind]) -> String {
        var rows: [[String]] = [["spread over repeats", "runs"] + engines.map { "\($0.title) min / median / max" }]
        for workload in Workload.allCases {
            let spreads = engines.map { find(workload, $0)?.spread }
            guard let runs = spreads.compactMap({ $0?.runs }).max() else { continue }
            var cells = [workload.rawValue + " (\(workload.unit))", "\(runs)"]
            cells += spreads.map { s in s.map { String(format: "%.0f / %.0f / %.0f", $0.min, $0.median, $0.max) } ?? "–" }
            rows.append(cells)
        }
        return rows.count > 1 ? "\n" + Report.render(rows) : ""
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
