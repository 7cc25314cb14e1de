import Foundation
import XCTest

/// The benchmark tool at a tiny scale: it must run every engine and workload, write the JSON
/// the issue specifies, and every engine must read back the same bytes.
final class BenchSmokeTests: XCTestCase {
    /// The `cowdb-bench` binary built beside the test bundle.
    static let benchPath = URL(fileURLWithPath: ToolRunner.cowdbPath).deletingLastPathComponent().appendingPathComponent("cowdb-bench").path

    /// Workloads every engine runs.
    static let shared = ["bulk_load", "individual_writes", "concurrent_writes", "batch_writes", "random_reads", "random_reads_warm",
                         "random_range_reads", "random_reads_2_threads", "removals", "size_after_load", "size_after_removals"]
    /// Workloads only CowDB runs.
    static let cowdbOnly = ["old_version_reads", "open_with_history", "bytes_per_commit", "diff", "compaction", "history_packed_bytes",
                            "packed_version_reads", "packed_version_range_reads", "pack_rate", "packed_diff_100"]
    /// Workloads whose checksum is the byte sum of the same random gets.
    static let sameGets = ["random_reads", "random_reads_warm", "random_reads_2_threads"]
    /// Workloads measured more than once, and how many times (the defaults: 5 write rounds, 3 read repeats).
    static let repeated = ["individual_writes": 5, "concurrent_writes": 5, "batch_writes": 5, "random_reads_warm": 3, "random_range_reads": 3,
                           "random_reads_2_threads": 3, "old_version_reads": 3, "packed_version_reads": 3, "packed_version_range_reads": 3]

    func testSmallRunHasEveryRowAndEnginesAgree() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.benchPath), "cowdb-bench not found at \(Self.benchPath)")
        let scratch = TemporaryDirectory()
        let jsonPath = scratch.path("bench.json")
        let result = try ToolRunner.run(Self.benchPath, ["--scale", "2000", "--individual-writes", "200", "--concurrent-writes", "50", "--batch-writes", "20",
                                                         "--dir", scratch.url.path, "--json", jsonPath, "--order", "sqlite,cowdb,lmdb"])
        XCTAssertEqual(result.status, 0, "cowdb-bench failed: \(result.errors)")
        XCTAssertTrue(result.text.contains("| workload"), "no table in: \(result.text)")
        XCTAssertTrue(result.text.contains("engine order: sqlite, cowdb, lmdb"), "no engine order in: \(result.text)")
        // The engines ran in that order: every phase of one before any of the next.
        let started = ["SQLite: load", "CowDB: load", "LMDB: load"].map { result.errors.range(of: $0)?.lowerBound }
        XCTAssertFalse(started.contains(nil), "phases missing from: \(result.errors)")
        XCTAssertEqual(started.compactMap { $0 }, started.compactMap { $0 }.sorted(), "engines ran out of order: \(result.errors)")
        XCTAssertLessThan(result.errors.range(of: "SQLite: remove")?.lowerBound ?? result.errors.endIndex,
                          started[1] ?? result.errors.startIndex)
        XCTAssertTrue(result.text.contains("fdatasync"), "no sync latency in: \(result.text)")

        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as? [String: Any]
        let report = try XCTUnwrap(object)
        XCTAssertEqual(report["scale"] as? Int, 2000)
        XCTAssertEqual(report["order"] as? [String], ["sqlite", "cowdb", "lmdb"])
        XCTAssertFalse((report["machine"] as? String ?? "").isEmpty)
        let rows = try XCTUnwrap(report["results"] as? [[String: Any]])
        func row(_ workload: String, _ engine: String) -> [String: Any]? {
            rows.first { $0["workload"] as? String == workload && $0["engine"] as? String == engine }
        }
        let number = Self.number

        for engine in ["cowdb", "lmdb", "sqlite"] {
            for workload in Self.shared + (engine == "cowdb" ? Self.cowdbOnly : []) {
                guard let r = row(workload, engine) else {
                    XCTFail("missing row \(workload) / \(engine)")
                    continue
                }
                checkFields(r, workload: workload, engine: engine)
            }
            XCTAssertNil(row("old_version_reads", engine == "cowdb" ? "none" : engine), "\(engine) cannot read old versions")
            checkSpreads(row, engine)
            XCTAssertEqual(number(row("individual_writes", engine), "commits"), 200, engine)
            XCTAssertEqual(number(row("concurrent_writes", engine), "commits"), 4 * 50, engine)
            XCTAssertEqual(number(row("batch_writes", engine), "commits"), 20, engine)
        }
        XCTAssertEqual(number(row("bytes_per_commit", "cowdb"), "commits"), 200)
        XCTAssertGreaterThanOrEqual(number(row("open_with_history", "cowdb"), "commits") ?? 0, 200, "the commits opened")
        XCTAssertTrue(result.text.contains("open with history of 2"), "no commit count in the target: \(result.text)")
        XCTAssertTrue(result.text.contains("≤ 5 for 100 changed keys at N = 1,000,000"), "no diff target in: \(result.text)")
        XCTAssertTrue(result.text.contains("1.25 × LMDB's"), "no memory target in: \(result.text)")
        for goal in ["(4 threads) / CowDB's individual_writes", "(4 threads), CowDB/LMDB", "(4 threads), CowDB/SQLite"] {
            XCTAssertTrue(result.text.contains(goal), "no concurrent-commit target \(goal) in: \(result.text)")
        }
        checkPackedHistory(row, result.text)

        checkChecksums(rows)
    }

    /// A row's numeric field, or nil when it is absent or null.
    private static func number(_ row: [String: Any]?, _ field: String) -> Double? { (row?[field] as? NSNumber)?.doubleValue }

    /// Checks one row's fields: all present (null when they don't apply), sizes for size rows,
    /// positive times, rates and memory for timed ones, CPU time for shared workloads.
    private func checkFields(_ r: [String: Any], workload: String, engine: String) {
        let number = Self.number
        // Every field is present, null when it does not apply.
        for field in ["seconds", "ops_per_second", "bytes", "peak_rss_anon_bytes", "spread", "commits", "cpu_seconds", "references"] {
            XCTAssertNotNil(r[field], "\(workload) / \(engine) lacks \(field)")
        }
        if workload.hasPrefix("size_") || workload == "bytes_per_commit" || workload == "history_packed_bytes" {
            XCTAssertGreaterThan(number(r, "bytes") ?? 0, 0, "\(workload) / \(engine)")
            XCTAssertTrue(r["seconds"] is NSNull, "\(workload) / \(engine) seconds should be null")
        } else {
            XCTAssertGreaterThan(number(r, "seconds") ?? 0, 0, "\(workload) / \(engine)")
            XCTAssertGreaterThan(number(r, "peak_rss_anon_bytes") ?? 0, 0, "\(workload) / \(engine)")
            if workload != "open_with_history" {
                XCTAssertGreaterThan(number(r, "ops_per_second") ?? 0, 0, "\(workload) / \(engine)")
            }
            if Self.shared.contains(workload), !workload.hasPrefix("size_") {
                XCTAssertGreaterThanOrEqual(number(r, "cpu_seconds") ?? -1, 0, "\(workload) / \(engine) CPU time")
            }
        }
    }

    /// The packed-history rows: the terms of their targets in `references` (the changed pairs'
    /// bytes are N × (24 + 150)), the versions kept, and a target line for each.
    private func checkPackedHistory(_ row: (String, String) -> [String: Any]?, _ text: String) {
        let packed = row("history_packed_bytes", "cowdb")?["references"] as? [String: Any]
        XCTAssertEqual(Self.number(row("history_packed_bytes", "cowdb"), "commits"), 2000)
        XCTAssertEqual((packed?["changed_pairs_bytes"] as? NSNumber)?.doubleValue, 2000 * 174)
        XCTAssertGreaterThan((packed?["fresh_load_bytes"] as? NSNumber)?.doubleValue ?? 0, 0)
        let rate = row("pack_rate", "cowdb")
        XCTAssertGreaterThanOrEqual(((rate?["references"] as? [String: Any])?["dd_mb_per_second"] as? NSNumber)?.doubleValue ?? -1, 0)
        XCTAssertEqual(Self.number(rate, "commits"), 2001, "the load and every commit kept")
        XCTAssertGreaterThan(Self.number(row("packed_diff_100", "cowdb"), "checksum") ?? 0, 0, "the diff's changed keys")
        for goal in ["(target ≤ 1)", "random_reads_warm", "random_range_reads", "write rate / dd's", "≤ 50 milliseconds"] {
            XCTAssertTrue(text.contains(goal), "no packed-history target \(goal) in: \(text)")
        }
    }

    /// The same reads give the same bytes in every engine (and in every read workload).
    private func checkChecksums(_ rows: [[String: Any]]) {
        let sums = rows.compactMap { r -> (String, String, UInt64)? in
            guard let sum = r["checksum"] as? NSNumber else { return nil }
            return (r["workload"] as? String ?? "", r["engine"] as? String ?? "", sum.uint64Value)
        }
        let getSums = Set(sums.filter { Self.sameGets.contains($0.0) }.map(\.2))
        XCTAssertEqual(getSums.count, 1, "random gets read different bytes: \(sums)")
        XCTAssertGreaterThan(getSums.first ?? 0, 0)
        let rangeSums = Set(sums.filter { $0.0 == "random_range_reads" }.map(\.2))
        XCTAssertEqual(rangeSums.count, 1, "range reads differ: \(sums)")
        XCTAssertEqual(sums.filter { $0.0 == "random_range_reads" }.count, 3)
        XCTAssertEqual(Set(sums.filter { $0.0 == "removals" }.map(\.2)), [1000], "each engine removes half of the 2,000 keys")
        // Every engine read back the 200 pairs its threads committed: the same values' byte sum.
        let committed = sums.filter { $0.0 == "concurrent_writes" }
        XCTAssertEqual(committed.count, 3, "concurrent_writes read back in every engine: \(sums)")
        XCTAssertEqual(Set(committed.map(\.2)).count, 1, "concurrent_writes read back different bytes: \(committed)")
        XCTAssertGreaterThan(committed.first?.2 ?? 0, 0)
        // Gets at the old version return values of their own (checked by the bench against its workload).
        let oldSum = sums.first { $0.0 == "old_version_reads" }?.2
        XCTAssertNotNil(oldSum)
        XCTAssertNotEqual(oldSum, getSums.first, "the old version must hold other values than the latest")
    }

    /// Checks `spread` of every row measured more than once: min ≤ median ≤ max, the number of
    /// runs, and the headline (the fastest read run; durable commits: all rounds' total) within it.
    private func checkSpreads(_ row: (String, String) -> [String: Any]?, _ engine: String) {
        for (workload, runs) in Self.repeated where engine == "cowdb" || !Self.cowdbOnly.contains(workload) {
            guard let r = row(workload, engine), let spread = r["spread"] as? [String: Any],
                  let low = (spread["min"] as? NSNumber)?.doubleValue, let middle = (spread["median"] as? NSNumber)?.doubleValue,
                  let high = (spread["max"] as? NSNumber)?.doubleValue, let figure = (r["ops_per_second"] as? NSNumber)?.doubleValue else {
                XCTFail("\(workload) / \(engine) has no spread")
                continue
            }
            XCTAssertEqual(spread["runs"] as? Int, runs, "\(workload) / \(engine)")
            XCTAssertTrue(0 < low && low <= middle && middle <= high, "\(workload) / \(engine): \(spread)")
            if workload.hasSuffix("_writes") {
                XCTAssertTrue(low * 0.999 <= figure && figure <= high * 1.001, "\(workload) / \(engine): \(figure) outside \(spread)")
            } else {
                XCTAssertEqual(figure, high, accuracy: high * 1e-9, "\(workload) / \(engine) reports the fastest run")
            }
        }
        XCTAssertTrue(row("removals", engine)?["spread"] is NSNull, "removals run once")
    }

    /// A commit lost by `concurrent_writes` (a hidden test flag leaves one out) must fail the
    /// run: the bench reads back every pair its threads committed.
    func testLostConcurrentCommitFailsTheRun() throws {
        let scratch = TemporaryDirectory()
        let result = try ToolRunner.run(Self.benchPath, ["--scale", "2000", "--individual-writes", "5", "--concurrent-writes", "10",
                                                         "--batch-writes", "1", "--dir", scratch.url.path, "--engines", "cowdb",
                                                         "--workloads", "concurrent_writes", "--skip-concurrent-write"])
        XCTAssertNotEqual(result.status, 0, "a lost commit passed: \(result.text)")
        XCTAssertTrue(result.errors.contains("1 of 40 committed pairs are missing"), "no missing-pair error in: \(result.errors)")
        let honest = try ToolRunner.run(Self.benchPath, ["--scale", "2000", "--individual-writes", "5", "--concurrent-writes", "10",
                                                         "--batch-writes", "1", "--dir", scratch.url.path, "--engines", "cowdb",
                                                         "--workloads", "concurrent_writes"])
        XCTAssertEqual(honest.status, 0, "cowdb-bench failed: \(honest.errors)")
        XCTAssertTrue(honest.errors.contains("40 commits from 4 threads"), "no concurrent_writes line in: \(honest.errors)")
    }

    /// A read at the wrong version (a hidden test flag reads the latest instead of the old
    /// version) must fail the run: the bench knows from its own workload what the old version holds.
    func testWrongVersionReadFailsTheRun() throws {
        let scratch = TemporaryDirectory()
        let result = try ToolRunner.run(Self.benchPath, ["--scale", "2000", "--individual-writes", "50", "--batch-writes", "5",
                                                         "--dir", scratch.url.path, "--engines", "cowdb",
                                                         "--workloads", "old_version_reads", "--misread-old-version"])
        XCTAssertNotEqual(result.status, 0, "a wrong-version read passed: \(result.text)")
        XCTAssertTrue(result.errors.contains("another version's values"), "no version error in: \(result.errors)")
        let packed = try ToolRunner.run(Self.benchPath, ["--scale", "2000", "--dir", scratch.url.path, "--engines", "cowdb",
                                                         "--workloads", "packed_version_reads", "--misread-old-version"])
        XCTAssertNotEqual(packed.status, 0, "a wrong-version read of the kept history passed: \(packed.text)")
        XCTAssertTrue(packed.errors.contains("packed_version_reads: the gets at version"), "no version error in: \(packed.errors)")

        let honest = try ToolRunner.run(Self.benchPath, ["--scale", "2000", "--individual-writes", "50", "--batch-writes", "5",
                                                         "--dir", scratch.url.path, "--engines", "cowdb", "--workloads", "old_version_reads"])
        XCTAssertEqual(honest.status, 0, "cowdb-bench failed: \(honest.errors)")
        XCTAssertTrue(honest.errors.contains("is version"), "no checked byte sum in: \(honest.errors)")
    }
}
