import Foundation
import XCTest
@testable import CowDB

/// `cowdb compact --thin`: which versions it keeps, its options, and its one-line errors.
final class CompactThinCommandTests: XCTestCase {
    static let hour: UInt64 = 3_600_000_000_000
    static let day = 24 * hour
    /// Midnight UTC of a day in 2024.
    static let midnight = 19_800 * day

    /// Nine versions over three days, committed at set times (compaction's forced commits):
    /// day 0 at 01:00, 02:00, 23:00; day 1 at 05:00, 05:30; day 2 at 08:00, 09:30, 09:45, 10:00.
    /// Version N sets "last" to N; version 1 is tagged "first".
    private func makeDatabase(_ path: String) throws {
        let (d, h) = (Self.midnight, Self.hour)
        let times = [d + h, d + 2 * h, d + 23 * h, d + Self.day + 5 * h, d + Self.day + 5 * h + h / 2,
                     d + 2 * Self.day + 8 * h, d + 2 * Self.day + 9 * h + h / 2, d + 2 * Self.day + 9 * h + 3 * h / 4, d + 2 * Self.day + 10 * h]
        let db = try openDatabase(path: path)
        for (offset, time) in times.enumerated() {
            let version = UInt64(offset + 1)
            try db.write(forced: WriteTransaction.ForcedCommit(version: version, timestamp: time, rolledBackFrom: nil)) { txn in
                try txn.put(b("last"), b("\(version)"))
            }
        }
        try db.tag("first", version: 1)
        try db.close()
    }

    /// The versions `cowdb versions --json` lists.
    private func versions(_ path: String) throws -> [Int] {
        let listing = try ToolRunner.cowdb(["versions", path, "--json"])
        assertSuccess(listing)
        let objects = try XCTUnwrap(try JSONSerialization.jsonObject(with: listing.output) as? [[String: Any]])
        return objects.compactMap { $0["version"] as? Int }
    }

    func testThinKeepsTheLastHourEachHourOfTheLastDayAndEachDay() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try makeDatabase(path)
        // 09:30-10:00 of day 2 (the last hour), 08:00 (its hour's last, within a day), and the
        // last of each day: 23:00 of day 0, 05:30 of day 1. Tags only with --keep-tags.
        let thinned = try ToolRunner.cowdb(["compact", path, "--thin"])
        assertSuccess(thinned)
        XCTAssertTrue(thinned.text.hasPrefix("kept 6 of 9 versions; "), thinned.text)
        XCTAssertEqual(try versions(path), [3, 5, 6, 7, 8, 9])
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "last", "--version", "5"]).text, "5\n")
        assertFailure(try ToolRunner.cowdb(["get", path, "last", "--version", "4"]), status: 1, containing: ["unknown version 4"])
        assertSuccess(try ToolRunner.cowdb(["check", path, "--all-versions"]))
        // Thinning again changes nothing: the buckets' last versions stay their last.
        XCTAssertTrue(try ToolRunner.cowdb(["compact", path, "--thin"]).text.hasPrefix("kept 6 of 6 versions; "))
    }

    func testThinOptionsImplyThinAndCombineWithTags() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try makeDatabase(path)
        // No span of every version, no hourly span: the last of each day, and the tagged one.
        assertSuccess(try ToolRunner.cowdb(["compact", path, "--thin-all-for", "0s", "--thin-hourly-for", "0s", "--keep-tags"]))
        XCTAssertEqual(try versions(path), [1, 3, 5, 9])
        XCTAssertEqual(try ToolRunner.cowdb(["get", path, "last", "--tag", "first"]).text, "1\n")

        let other = dir.path("other")
        try makeDatabase(other)
        // Every version of the last 1.5 hours (09:30-10:00), the last of each half day of the
        // last 1.5 days (22:00 of day 0 on: 23:00 of day 0, 05:30 of day 1, 10:00 of day 2; not
        // 08:00), the last of each week (all in one).
        assertSuccess(try ToolRunner.cowdb(["compact", other, "--thin-all-for", "1.5h", "--thin-hourly-for", "1.5d",
                                            "--thin-hourly-period", "12h", "--thin-daily-period", "1w"]))
        XCTAssertEqual(try versions(other), [3, 5, 7, 8, 9])
    }

    func testBadSpansAreOneLineErrors() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        try makeDatabase(path)
        assertFailure(try ToolRunner.cowdb(["compact", path, "--thin-all-for", "5x"]), status: 1, containing: ["cannot read the span \"5x\"", "90s"])
        assertFailure(try ToolRunner.cowdb(["compact", path, "--thin-hourly-for", "-1h"]), status: 1, containing: ["cannot read the span \"-1h\""])
        assertFailure(try ToolRunner.cowdb(["compact", path, "--thin-daily-period", "0d"]), status: 1, containing: ["--thin-daily-period must be longer than 0"])
        assertFailure(try ToolRunner.cowdb(["compact", path, "--thin-hourly-period", "0.0000000001s"]), status: 1,
                      containing: ["--thin-hourly-period must be longer than 0"])
        XCTAssertEqual(try versions(path), Array(1 ... 9), "a refused compaction changes nothing")
        let help = try ToolRunner.cowdb(["compact", "--help"])
        for needle in ["--thin ", "--thin-all-for <SPAN>", "--thin-hourly-for <SPAN>", "--thin-hourly-period <SPAN>", "--thin-daily-period <SPAN>",
                       "Time Machine", "latest version's commit time"] {
            XCTAssertTrue(help.text.contains(needle), "compact --help lacks \(needle)")
        }
    }
}
