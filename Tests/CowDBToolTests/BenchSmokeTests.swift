import Foundation
import XCTest

/// The benchmark tool at a tiny scale: it must run every engine and workload, write the JSON
/// the issue specifies, and every engine must read back the same bytes.
final class BenchSmokeTests: XCTestCase {
    /// The `cowdb-bench` binary built beside the test bundle.
    static let benchPath = URL(fileURLWithPath: ToolRunner.cowdbPath).deletingLastPathComponent().appendingPathComponent("cowdb-bench").path

    /// Workloads every engine runs.
    static let shared = ["bulk_load", "individual_writes", "batch_writes", "random_reads", "random_reads_warm",
                         "random_range_reads", "random_reads_2_threads", "removals", "size_after_load", "size_after_removals"]
    /// Workloads only CowDB runs.
    static let cowdbOnly = ["old_version_reads", "open_with_history", "bytes_per_commit", "diff", "compaction"]
    /// Workloads whose checksum is the byte sum of the same random gets.
    static let sameGets = ["random_reads", "random_reads_warm", "random_reads_2_threads", "old_version_reads"]

    func testSmallRunHasEveryRowAndEnginesAgree() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.benchPath), "cowdb-bench not found at \(Self.benchPath)")
        let scratch = TemporaryDirectory()
        let jsonPath = scratch.path("bench.json")
        let result = try ToolRunner.run(Self.benchPath, ["--scale", "2000", "--individual-writes", "200", "--batch-writes", "20",
                                                         "--dir", scratch.url.path, "--json", jsonPath])
        XCTAssertEqual(result.status, 0, "cowdb-bench failed: \(result.errors)")
        XCTAssertTrue(result.text.contains("| workload"), "no table in: \(result.text)")
        XCTAssertTrue(result.text.contains("fdatasync"), "no sync latency in: \(result.text)")

        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as? [String: Any]
        let report = try XCTUnwrap(object)
        XCTAssertEqual(report["scale"] as? Int, 2000)
        XCTAssertFalse((report["machine"] as? String ?? "").isEmpty)
        let rows = try XCTUnwrap(report["results"] as? [[String: Any]])
        func row(_ workload: String, _ engine: String) -> [String: Any]? {
            rows.first { $0["workload"] as? String == workload && $0["engine"] as? String == engine }
        }
        func number(_ row: [String: Any]?, _ field: String) -> Double? { (row?[field] as? NSNumber)?.doubleValue }

        for engine in ["cowdb", "lmdb", "sqlite"] {
            for workload in Self.shared + (engine == "cowdb" ? Self.cowdbOnly : []) {
                guard let r = row(workload, engine) else {
                    XCTFail("missing row \(workload) / \(engine)")
                    continue
                }
                // Every field is present, null when it does not apply.
                for field in ["seconds", "ops_per_second", "bytes", "peak_rss_anon_bytes"] {
                    XCTAssertNotNil(r[field], "\(workload) / \(engine) lacks \(field)")
                }
                if workload.hasPrefix("size_") || workload == "bytes_per_commit" {
                    XCTAssertGreaterThan(number(r, "bytes") ?? 0, 0, "\(workload) / \(engine)")
                    XCTAssertTrue(r["seconds"] is NSNull, "\(workload) / \(engine) seconds should be null")
                } else {
                    XCTAssertGreaterThan(number(r, "seconds") ?? 0, 0, "\(workload) / \(engine)")
                    XCTAssertGreaterThan(number(r, "peak_rss_anon_bytes") ?? 0, 0, "\(workload) / \(engine)")
                    if workload != "open_with_history" {
                        XCTAssertGreaterThan(number(r, "ops_per_second") ?? 0, 0, "\(workload) / \(engine)")
                    }
                }
            }
            XCTAssertNil(row("old_version_reads", engine == "cowdb" ? "none" : engine), "\(engine) cannot read old versions")
        }

        // The same reads give the same bytes in every engine (and in every read workload).
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
    }
}
