import Foundation
import XCTest
@testable import CowDB

/// `RetentionPolicy.Thinning`: the selection over synthetic histories against a reference that
/// reads every version, hand-worked edge cases, its cost in index reads, and validation.
final class RetentionThinningTests: XCTestCase {
    static let second: UInt64 = 1_000_000_000
    static let hour = 3_600 * second
    static let day = 24 * hour
    /// Midnight UTC of a day in 2024 (a multiple of a day since 1970).
    static let midnight = 19_800 * day

    /// The positions thinning keeps, by the definition: a version is kept when it is at most
    /// `everyVersionFor` before the latest, or the last of its hourly bucket and at most
    /// `hourlyFor` before the latest, or the last of its daily bucket. Reads every timestamp.
    static func reference(_ times: [UInt64], _ thinning: RetentionPolicy.Thinning) throws -> [Int] {
        let spans = try thinning.nanoseconds()
        guard let latest = times.last else { return [] }
        /// Whether position `i` is the last of its `period` bucket.
        func endsBucket(_ i: Int, _ period: UInt64) -> Bool {
            i == times.count - 1 || times[i] / period != times[i + 1] / period
        }
        return times.indices.filter { i in
            let age = latest - times[i]
            return age <= spans.everyVersionFor || (age <= spans.hourlyFor && endsBucket(i, spans.hourlyPeriod)) || endsBucket(i, spans.dailyPeriod)
        }
    }

    /// The positions `thinning` keeps in `times` through the policy's selection (versions are
    /// the positions + 1), with the number of timestamps it read.
    static func select(_ times: [UInt64], _ thinning: RetentionPolicy.Thinning) throws -> (kept: [Int], reads: Int) {
        var reads = 0
        let policy = RetentionPolicy(keepTags: false, thinning: thinning)
        let kept = try policy.select(count: times.count, version: { UInt64($0 + 1) }, timestamp: { reads += 1; return times[$0] }, tags: [])
        return (kept.map { Int($0) - 1 }, reads)
    }

    /// A random history: bursts of commits nanoseconds to seconds apart, pauses of minutes,
    /// hours or days, and now and then a commit exactly on an hour or a day.
    static func randomHistory(_ random: inout SeededGenerator) -> [UInt64] {
        var times: [UInt64] = []
        var time = midnight + UInt64.random(in: 0 ..< day, using: &random)
        for _ in 0 ..< Int.random(in: 0 ... 400, using: &random) {
            switch Int.random(in: 0 ..< 20, using: &random) {
            case 0: time += UInt64.random(in: 1 ... 5, using: &random) * day
            case 1 ... 3: time += UInt64.random(in: 1 ... 3 * hour, using: &random)
            case 4: time = (time / hour + UInt64.random(in: 1 ... 3, using: &random)) * hour
            case 5: time = (time / day + 1) * day
            case 6: time = (time / hour + 2) * hour - 1
            default: time += UInt64.random(in: 1 ... 20 * 60 * second, using: &random)
            }
            times.append(time)
        }
        return times
    }

    /// A random thinning: the defaults, or spans and periods from nanoseconds to weeks.
    static func randomThinning(_ random: inout SeededGenerator) -> RetentionPolicy.Thinning {
        guard Bool.random(using: &random) else { return RetentionPolicy.Thinning() }
        let spans: [Duration] = [.zero, .nanoseconds(1), .seconds(90), .seconds(3_600), .seconds(86_400), .seconds(7 * 86_400), .seconds(Int64.max)]
        let periods: [Duration] = [.nanoseconds(1), .seconds(1), .seconds(900), .seconds(3_600), .seconds(86_400), .seconds(7 * 86_400),
                                   .seconds(Int64.max)]
        return RetentionPolicy.Thinning(everyVersionFor: spans.randomElement(using: &random)!, hourlyFor: spans.randomElement(using: &random)!,
                                        hourlyPeriod: periods.randomElement(using: &random)!, dailyPeriod: periods.randomElement(using: &random)!)
    }

    func testRandomHistoriesMatchTheReference() throws {
        let seed = testSeed("RetentionThinningTests.testRandomHistoriesMatchTheReference")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 300 {
            let times = Self.randomHistory(&random)
            let thinning = Self.randomThinning(&random)
            let expected = try Self.reference(times, thinning)
            let (kept, reads) = try Self.select(times, thinning)
            XCTAssertEqual(kept, expected, "round \(round), seed \(seed), \(thinning), \(times.count) versions")
            if !times.isEmpty { XCTAssertEqual(kept.last, times.count - 1, "the latest is always kept (round \(round), seed \(seed))") }
            // Reads: the tail kept whole (read by nobody: only its versions), then one binary
            // search per kept bucket.
            let searches = 3 + 2 * kept.count
            XCTAssertLessThanOrEqual(reads, searches * (Int.bitWidth - times.count.leadingZeroBitCount + 1), "round \(round), seed \(seed)")
        }
    }

    func testEmptyAndOneVersion() throws {
        XCTAssertEqual(try Self.select([], RetentionPolicy.Thinning()).kept, [])
        XCTAssertEqual(try Self.select([Self.midnight + 5], RetentionPolicy.Thinning()).kept, [0])
        let zero = RetentionPolicy.Thinning(everyVersionFor: .zero, hourlyFor: .zero)
        XCTAssertEqual(try Self.select([Self.midnight], zero).kept, [0])
    }

    func testVersionsOnBucketBoundaries() throws {
        let (d, h) = (Self.midnight, Self.hour)
        // 01:00 exactly, 01:30, 02:00 exactly, 23:00, next midnight exactly, 00:30, then the
        // latest at 10:00 the day after: one a day (the last of each), nothing younger.
        let days = [d + h, d + h + h / 2, d + 2 * h, d + 23 * h, d + 24 * h, d + 24 * h + h / 2, d + 58 * h]
        XCTAssertEqual(try Self.select(days, RetentionPolicy.Thinning()).kept, [3, 5, 6])
        // A version exactly on the hour starts that hour; one a nanosecond before ends the
        // previous one; one exactly `everyVersionFor` before the latest is kept.
        let hours = [d + 8 * h + h / 2, d + 9 * h - 1, d + 9 * h, d + 9 * h + 1, d + 10 * h]
        XCTAssertEqual(try Self.select(hours, RetentionPolicy.Thinning()).kept, [1, 2, 3, 4])
        let longerSpan = RetentionPolicy.Thinning(everyVersionFor: .seconds(5_400))
        XCTAssertEqual(try Self.select(hours, longerSpan).kept, [0, 1, 2, 3, 4])
        let shorterSpan = RetentionPolicy.Thinning(everyVersionFor: .nanoseconds(3_599_999_999_999))
        XCTAssertEqual(try Self.select(hours, shorterSpan).kept, [1, 3, 4])
        // The hourly span ends exactly at `hourlyFor`: 10:00 the day before is in, 09:59 is not
        // (the last of its hour, but only the day's last is kept that far back).
        let lastDay = [d + 9 * h + h / 2, d + 10 * h - 60 * Self.second, d + 10 * h, d + 12 * h, d + 34 * h]
        XCTAssertEqual(try Self.select(lastDay, RetentionPolicy.Thinning()).kept, [2, 3, 4])
        XCTAssertEqual(try Self.select(lastDay, RetentionPolicy.Thinning(hourlyFor: .seconds(86_399))).kept, [3, 4])
    }

    /// A span just below 2^64 ns whose sub-second part carries it past: saturates (keeps
    /// everything) instead of wrapping to a few microseconds (found in review).
    func testASpanThatCarriesPastTheLargestNanosecondCountSaturates() throws {
        let times = (0 ..< 20).map { Self.midnight + UInt64($0) * 60_000_000_000 } // one hour bucket: only the span keeps them all
        let huge = RetentionPolicy.Thinning(everyVersionFor: .seconds(18_446_744_073) + .milliseconds(710))
        XCTAssertEqual(try Self.select(times, huge).kept, Array(0 ..< 20))
    }

    func testAllVersionsInOneHourAndGapsOfDays() throws {
        let (d, h) = (Self.midnight, Self.hour)
        let oneHour = (0 ..< 50).map { d + 5 * h + UInt64($0) * 60 * Self.second }
        XCTAssertEqual(try Self.select(oneHour, RetentionPolicy.Thinning()).kept, Array(0 ..< 50))
        XCTAssertEqual(try Self.select(oneHour, RetentionPolicy.Thinning(everyVersionFor: .seconds(600))).kept, Array(39 ..< 50))
        XCTAssertEqual(try Self.select(oneHour, RetentionPolicy.Thinning(everyVersionFor: .zero)).kept, [49])
        // Three busy days weeks apart: the last of each day, then the last day's tail.
        var gaps: [UInt64] = []
        for day: UInt64 in [0, 17, 40] { gaps += (0 ..< 30).map { d + day * Self.day + 3 * h + UInt64($0) * 20 * 60 * Self.second } }
        let kept = try Self.select(gaps, RetentionPolicy.Thinning()).kept
        XCTAssertEqual(kept, [29, 59] + [62, 65, 68, 71, 74, 77, 80, 83, 86, 87, 88, 89])
        XCTAssertEqual(kept, try Self.reference(gaps, RetentionPolicy.Thinning()))
    }

    func testHugePeriodsAndTimesNearTheEnd() throws {
        let end = UInt64.max - 10
        let times = [end - 3 * Self.day, end - Self.day - 5, end - 5, end]
        for thinning in [RetentionPolicy.Thinning(), RetentionPolicy.Thinning(everyVersionFor: .zero, hourlyFor: .zero, dailyPeriod: .seconds(Int64.max))] {
            XCTAssertEqual(try Self.select(times, thinning).kept, try Self.reference(times, thinning), "\(thinning)")
        }
        XCTAssertEqual(try Self.select(times, RetentionPolicy.Thinning(everyVersionFor: .zero, hourlyFor: .zero, dailyPeriod: .seconds(Int64.max))).kept, [3])
    }

    /// Two million versions 20 s apart (463 days, the latest at 23:06:20): the 181 versions of
    /// the last hour, the last of each hour 00-21 of the last day (22), the last of the day
    /// before (the last of its 23:00 hour too) and of the 461 days before it: 665, with one
    /// binary search per bucket (25 hours, 463 days).
    func testSelectionReadsOnlyWhatItKeeps() throws {
        let count = 2_000_000
        let times = (0 ..< count).map { Self.midnight + UInt64($0) * 20 * Self.second }
        let (kept, reads) = try Self.select(times, RetentionPolicy.Thinning())
        let expected = try Self.reference(times, RetentionPolicy.Thinning())
        XCTAssertTrue(kept == expected, "first difference at \((0 ..< min(kept.count, expected.count)).first { kept[$0] != expected[$0] } ?? min(kept.count, expected.count))")
        XCTAssertEqual(kept.count, 181 + 22 + 461 + 1)
        XCTAssertLessThan(reads, (463 + 25 + 3) * 23, "timestamps read: \(reads)")
        print("thinning \(count) versions: \(kept.count) kept, \(reads) timestamps read")
    }

    func testCombinesByUnionWithTheOtherRules() throws {
        let seed = testSeed("RetentionThinningTests.testCombinesByUnionWithTheOtherRules")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 50 {
            let times = Self.randomHistory(&random)
            guard !times.isEmpty else { continue }
            let versions = times.enumerated().map { VersionInfo(version: UInt64($0.offset + 1), timestampNanoseconds: $0.element, entryCount: 0,
                                                                fileLength: 0, appendedBytes: 0) }
            let tags = [Tag(name: "t", version: UInt64.random(in: 1 ... UInt64(times.count), using: &random), createdAtNanoseconds: 0)]
            let thinning = Self.randomThinning(&random)
            let keepLast = Int.random(in: 0 ... 5, using: &random)
            let both = try RetentionPolicy(keepLast: keepLast, keepTags: true, thinning: thinning).select(from: versions, tags: tags)
            let last = try RetentionPolicy(keepLast: keepLast, keepTags: true).select(from: versions, tags: tags)
            let thinned = try Self.reference(times, thinning).map { UInt64($0 + 1) }
            XCTAssertEqual(both, Set(last + thinned).sorted(), "round \(round), seed \(seed)")
        }
    }

    func testInvalidSpansAndPeriodsAreRejected() throws {
        let invalid = [RetentionPolicy(thinning: .init(everyVersionFor: .seconds(-1))), RetentionPolicy(thinning: .init(hourlyFor: .nanoseconds(-1))),
                       RetentionPolicy(thinning: .init(hourlyPeriod: .zero)), RetentionPolicy(thinning: .init(dailyPeriod: .nanoseconds(-5))),
                       RetentionPolicy(thinning: .init(dailyPeriod: .milliseconds(1) / 1_000_000_000)), RetentionPolicy(keepLast: -1)]
        for policy in invalid {
            XCTAssertThrowsError(try policy.select(count: 3, version: { UInt64($0) }, timestamp: { UInt64($0) }, tags: []), "\(policy)") { error in
                guard case .invalidArgument = error as? CowDBError else { return XCTFail("\(error)") }
            }
            XCTAssertThrowsError(try policy.validate())
        }
        XCTAssertNoThrow(try RetentionPolicy(keepLast: 0, thinning: .init(everyVersionFor: .zero, hourlyFor: .zero, hourlyPeriod: .nanoseconds(1))).validate())
        // An automatic compaction's policy is checked when the database opens.
        var options = DatabaseOptions()
        options.automaticCompaction = AutomaticCompaction(policy: RetentionPolicy(thinning: .init(hourlyPeriod: .zero)))
        let directory = TemporaryDirectory()
        XCTAssertThrowsError(try Database(path: directory.path("auto"), options: options)) { error in // unchecked-open: refused, nothing made
            guard case .invalidArgument = error as? CowDBError else { return XCTFail("\(error)") }
        }
    }

    // MARK: Compaction

    func testCompactionWithThinningKeepsExactlyTheSelectedVersions() throws {
        let seed = testSeed("RetentionThinningTests.testCompactionWithThinningKeepsExactlyTheSelectedVersions")
        var random = SeededGenerator(seed: seed)
        var times = Self.randomHistory(&random)
        times.append((times.last ?? Self.midnight) + 1)
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        var db = try openDatabase(path: directory.path("thin"), options: options)
        // Commits at the history's times (compaction's forced commits): version N sets "last"
        // to N and adds key N.
        for (offset, time) in times.enumerated() {
            let version = UInt64(offset + 1)
            try db.write(forced: WriteTransaction.ForcedCommit(version: version, timestamp: time, rolledBackFrom: nil)) { txn in
                try txn.put(b("last"), b("\(version)"))
                try txn.put(b(String(format: "k%05d", version)), b("\(time)"))
            }
        }
        let tagged = UInt64.random(in: 1 ... UInt64(times.count), using: &random)
        try db.tag("kept", version: tagged)
        let thinning = Self.randomThinning(&random)
        let report = try db.compact(keeping: RetentionPolicy(thinning: thinning))
        let expected = Set(try Self.reference(times, thinning).map { UInt64($0 + 1) } + [tagged]).sorted()
        XCTAssertEqual(report.versionsKept, expected.count, "seed \(seed)")
        for reopened in [false, true] {
            if reopened {
                try db.close()
                db = try openDatabase(path: directory.path("thin"), options: options)
            }
            XCTAssertEqual(try db.versions().map(\.version), expected, "seed \(seed), \(thinning)")
            XCTAssertEqual(try db.versions().map(\.timestampNanoseconds), expected.map { times[Int($0) - 1] }, "seed \(seed)")
            for version in 1 ... UInt64(times.count) where version % 7 == 0 || expected.contains(version) {
                guard expected.contains(version) else {
                    XCTAssertThrowsError(try db.read(at: version) { _ in }) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(version)) }
                    continue
                }
                try db.read(at: version) { txn in
                    XCTAssertEqual(try txn.get(b("last")), b("\(version)"), "seed \(seed)")
                    XCTAssertEqual(try txn.count, version + 1, "seed \(seed)")
                }
            }
        }
        try db.checkAndClose()
    }
}
