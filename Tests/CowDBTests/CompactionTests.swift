import Foundation
import Synchronization
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Compaction: kept versions keep their numbers, times and content; dropped ones are gone;
/// shared pages stay shared; it runs beside readers and a writer; the switch is atomic and
/// leftovers of an interrupted compaction are cleaned up.
final class CompactionTests: XCTestCase {
    /// `rounds` commits of puts, deletes, keyspaces made and dropped, large values.
    private static func commit(_ db: Database, rounds: Range<Int>) throws {
        for round in rounds {
            try db.write { txn in
                for i in 0 ..< 40 { try txn.put(b(String(format: "k%05d", (i * 37 + round * 11) % 2_000)), b("r\(round)-\(i)")) }
                if round % 5 == 0 { try txn.keyspaceCreatingIfMissing("ks\(round % 3)").put(b("v\(round)"), [UInt8](repeating: UInt8(round & 0xFF), count: 7_000)) }
                if round % 7 == 3, try txn.keyspaces().contains("ks1") { try txn.dropKeyspace("ks1") }
                if round % 4 == 1 { for i in 0 ..< 10 { _ = try txn.delete(b(String(format: "k%05d", (round * 13 + i) % 2_000))) } }
            }
        }
    }

    func testKeptVersionsKeepNumbersTimesAndContent() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("compact")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        try Self.commit(db, rounds: 0 ..< 40)
        try db.rollback(to: 12) // version 41
        try Self.commit(db, rounds: 40 ..< 50) // versions 42...51
        try db.tag("ten", version: 10)
        try db.tag("twenty", version: 20)
        let before = try db.versions()
        let contents = try Dictionary(uniqueKeysWithValues: before.map { ($0.version, try db.contentOfEveryKeyspace(at: $0.version)) })
        let snapshot = try db.snapshot(at: 5)

        let report = try db.compact(keeping: RetentionPolicy(keepLast: 5, keepTags: true))
        let kept: [UInt64] = [10, 20, 47, 48, 49, 50, 51]
        XCTAssertEqual(try db.versions().map(\.version), kept)
        XCTAssertEqual(report.versionsKept, kept.count)
        XCTAssertEqual(report.versionsBefore, before.count)
        XCTAssertEqual(report.generation, 2)
        XCTAssertLessThan(report.bytesAfter, report.bytesBefore / 3, "\(report)")
        for info in try db.versions() {
            XCTAssertEqual(info.timestampNanoseconds, before.first { $0.version == info.version }?.timestampNanoseconds, "version \(info.version)")
            XCTAssertEqual(try db.contentOfEveryKeyspace(at: info.version), contents[info.version], "version \(info.version)")
        }
        XCTAssertThrowsError(try db.read(at: 30) { _ in }) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(30)) }
        XCTAssertThrowsError(try db.read(at: 41) { _ in }) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(41)) }
        XCTAssertEqual(try db.read(tag: "twenty") { $0.version }, 20)
        // A snapshot taken before still reads its (now dropped) version from the old file.
        XCTAssertEqual(try snapshot.read { try $0.contentOfEveryKeyspace() }, contents[5])
        snapshot.close()
        // The files: generation 2 named by CURRENT, the old generation gone.
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "/CURRENT"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "/data.2"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/data"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/index"))
        // Commits continue the numbering.
        try db.write { try $0.put(b("after"), b("compaction")) }
        XCTAssertEqual(db.latestVersion, 52)
        try db.checkAndClose()
        let reopened = try openDatabase(path: path)
        XCTAssertEqual(try reopened.versions().map(\.version), kept + [52])
        for version in kept { XCTAssertEqual(try reopened.contentOfEveryKeyspace(at: version), contents[version], "reopened, version \(version)") }
        // And a second compaction makes generation 3.
        XCTAssertEqual(try reopened.compact(keeping: .latestOnly).generation, 3)
        XCTAssertEqual(try reopened.versions().map(\.version), [52])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "/data.3"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/data.2"))
        try reopened.checkAndClose()
    }

    func testSharedPagesAreWrittenOnceAndLatestOnlyIsNearAFreshCopy() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("shared"), options: options)
        try db.write { txn in for i in 0 ..< 30_000 { try txn.put(b(String(format: "key%08d", i)), [UInt8](repeating: UInt8(i & 0xFF), count: 60)) } }
        for i in 0 ..< 50 { try db.write { try $0.put(b(String(format: "key%08d", i * 577)), b("changed \(i)")) } }
        let depth = try db.stats().keyspaces.first!.depth
        try db.copy(to: directory.path("fresh"))
        let fresh = try openDatabase(path: directory.path("fresh"))
        let freshBytes = try fresh.versions().last!.fileLength
        try fresh.close()

        let all = try db.compact(keeping: RetentionPolicy(keepAll: true))
        XCTAssertEqual(all.versionsKept, 51)
        // The first version whole (built with leaves 15/16 full, where a fresh copy's are full to
        // the byte: 16/15 as many, plus rounding to whole entries), then each of 50 commits at
        // most its path of `depth` pages + a commit record.
        let first = try db.versions().first!.fileLength
        XCTAssertLessThanOrEqual(Double(first), 1.1 * Double(freshBytes), "first version \(first) B, fresh copy \(freshBytes) B")
        let bound = first + UInt64(50 * (depth + 1) * db.pageSize)
        XCTAssertLessThanOrEqual(all.bytesAfter, bound, "keep-all compaction wrote \(all.bytesAfter) bytes, shared pages would need at most \(bound)")
        let latest = try db.compact(keeping: .latestOnly)
        print("compaction: fresh copy \(freshBytes) B; first version \(first) B; keep-all \(all.bytesAfter) B (bound \(bound)); latest only \(latest.bytesAfter) B")
        XCTAssertLessThanOrEqual(Double(latest.bytesAfter), 1.5 * Double(freshBytes))
        try db.checkAndClose()
    }

    /// The oldest kept version is built bottom-up (`TreeBuilder`): every keyspace (empty ones,
    /// long keys, large values) reads back the same at every kept version, `check` passes over
    /// all of them, and an unchanged keyspace's leaves come out full to the packing target.
    func testBuiltOldestVersionKeepsContentAndFillsLeaves() throws {
        let seed = testSeed("compaction-built")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("built"), options: options)
        let maxKey = PageLayout(pageSize: db.pageSize).maxKeySize
        try db.write { txn in
            for _ in 0 ..< 4_000 { try txn.put(random.bytes(1 + Int(random.next() % 40)), random.bytes(Int(random.next() % 300))) }
            for i in 0 ..< 30 { try txn.put(random.bytes(maxKey - i), random.bytes(i % 2 == 0 ? 10 : 9_000 + i * 500)) }
            let fixed = try txn.createKeyspace("fixed") // 8-byte keys, 41-byte values: 66-byte entries
            for i in 0 ..< 3_000 { try fixed.put(withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) }, [UInt8](repeating: 7, count: 41)) }
            _ = try txn.createKeyspace("empty")
            let large = try txn.createKeyspace("large")
            for i in 0 ..< 20 { try large.put(b("v\(i)"), random.bytes(5_000 + Int(random.next() % 30_000))) }
        }
        for round in 0 ..< 12 {
            try db.write { txn in
                for _ in 0 ..< 50 { try txn.put(random.bytes(1 + Int(random.next() % 40)), random.bytes(Int(random.next() % 300))) }
                if let key = try txn.scan().first(where: { _ in random.next() % 20 == 0 })?.key { try txn.delete(key) }
                if round == 4 { _ = try txn.createKeyspace("later") }
                if round == 8 { try txn.dropKeyspace("large") }
            }
        }
        let contents = try Dictionary(uniqueKeysWithValues: (1 ... db.latestVersion).map { ($0, try db.contentOfEveryKeyspace(at: $0)) })
        try db.compact(keeping: RetentionPolicy(keepLast: 9, keepTags: false)) // version 5 built whole
        XCTAssertEqual(try db.versions().map(\.version), Array(5 ... 13), "seed \(seed)")
        for version in 5 ... UInt64(13) {
            XCTAssertEqual(try db.contentOfEveryKeyspace(at: version), contents[version], "seed \(seed), version \(version)")
        }
        XCTAssertNoThrow(try db.check(allVersions: true), "seed \(seed)")
        // Full leaves: 15/16 of a page holds 57 entries of 66 bytes.
        let perLeaf = (TreeBuilder.fillTarget(PageLayout(pageSize: db.pageSize)) - PageHeader.size) / 66
        let fixedStats = try db.stats().keyspaces.first { $0.name == "fixed" }
        XCTAssertEqual(fixedStats?.leafPages, (3_000 + perLeaf - 1) / perLeaf)
        try db.checkAndClose(allVersions: true)
        let reopened = try openDatabase(path: directory.path("built"))
        XCTAssertEqual(try reopened.contentOfEveryKeyspace(at: 5), contents[5], "seed \(seed)")
        try reopened.checkAndClose(allVersions: true)
    }

    func testCompactionRunsBesideReadersAndAWriter() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("online")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        try db.write { txn in for i in 0 ..< 40_000 { try txn.put(b(String(format: "key%08d", i)), b("v0")) } }
        var readOnly = DatabaseOptions()
        readOnly.readOnly = true
        let reader = try openDatabase(path: path, options: readOnly) // as another process would
        let stop = Atomic<Bool>(false)
        let problems = Mutex<[String]>([])
        let writes = Atomic<Int>(0)
        let writer = Thread {
            var i = 1
            while !stop.load(ordering: .relaxed) {
                do {
                    try db.write { try $0.put(b("counter"), b("\(i)")) }
                    writes.add(1, ordering: .relaxed)
                    i += 1
                    usleep(2_000) // a steady writer, not a flood
                } catch { problems.withLock { $0.append("writer: \(error)") } }
            }
        }
        let readers = (0 ..< 2).map { _ in
            Thread {
                while !stop.load(ordering: .relaxed) {
                    do {
                        try db.read { txn in
                            if try txn.get(b("key00000007")) != b("v0") { problems.withLock { $0.append("reader saw a wrong value at \(txn.version)") } }
                        }
                    } catch { problems.withLock { $0.append("reader: \(error)") } }
                }
            }
        }
        writer.start()
        readers.forEach { $0.start() }
        while writes.load(ordering: .relaxed) < 20 { usleep(1000) }
        let report = try db.compact(keeping: RetentionPolicy(keepLast: 3, keepTags: false))
        usleep(20_000)
        stop.store(true, ordering: .relaxed)
        while writer.isExecuting || readers.contains(where: \.isExecuting) { usleep(1000) }
        XCTAssertEqual(problems.withLock { $0 }, [])
        let total = writes.load(ordering: .relaxed)
        XCTAssertEqual(db.latestVersion, UInt64(1 + total))
        XCTAssertEqual(try db.read { try $0.get(b("counter")) }, b("\(total)"), "no commit lost across the switch")
        print("online compaction: \(report.versionsCarriedOver) commits carried over, \(total) commits in all, \(report.seconds) s")
        // The other instance (read-only, like another process) follows to the new generation.
        XCTAssertEqual(try reader.read { try $0.get(b("counter")) }, b("\(total)"))
        XCTAssertEqual(reader.store.header.generation, 2)
        XCTAssertThrowsError(try reader.read(at: 2) { _ in }) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(2)) }
        try reader.close()
        try db.checkAndClose(allVersions: true)
    }

    func testInterruptedCompactionLeavesTheOldOrTheNewDatabaseComplete() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("interrupted")
        let db = try Database(path: path) // unchecked-open: the test ends on a planted damaged CURRENT; checked here, at close
        try Self.commit(db, rounds: 0 ..< 10)
        let latest = try db.contentOfEveryKeyspace(at: 10)
        try db.checkAndClose()
        // Before the switch: next-generation files (half-written) and a CURRENT.tmp lie around.
        for name in ["data.2", "index.2", "CURRENT.tmp", "compact.lock"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: path + "/" + name, contents: Data(repeating: 7, count: 5_000)))
        }
        var reopened = try Database(path: path) // unchecked-open: the test ends on a damaged CURRENT; checked at close
        XCTAssertEqual(reopened.latestVersion, 10)
        XCTAssertEqual(try reopened.contentOfEveryKeyspace(at: 10), latest)
        for name in ["data.2", "index.2", "CURRENT.tmp", "compact.lock"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/" + name), "\(name) left behind")
        }
        // After the switch, before the old files were removed: they are removed at open.
        try reopened.compact(keeping: .latestOnly)
        try reopened.checkAndClose()
        let oldData = Data(repeating: 1, count: 8_192)
        XCTAssertTrue(FileManager.default.createFile(atPath: path + "/data", contents: oldData))
        XCTAssertTrue(FileManager.default.createFile(atPath: path + "/index", contents: Data()))
        reopened = try Database(path: path) // unchecked-open: the test ends on a damaged CURRENT; checked at close
        XCTAssertEqual(reopened.latestVersion, 10)
        XCTAssertEqual(try reopened.contentOfEveryKeyspace(at: 10), latest)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/data"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/index"))
        try reopened.checkAndClose()
        // A damaged CURRENT is a typed error, not a guess.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: path + "/CURRENT"))
        XCTAssertThrowsError(try openDatabase(path: path)) { error in
            guard case .corrupt = error as? CowDBError else { return XCTFail("\(error)") }
        }
    }

    func testRetentionPolicySelection() throws {
        let now = UInt64(1_800_000_000) * 1_000_000_000
        let versions = (1 ... 10).map { VersionInfo(version: UInt64($0), timestampNanoseconds: now + UInt64($0) * 1_000_000_000, entryCount: 0, fileLength: 0, appendedBytes: 0) }
        let tags = [Tag(name: "t", version: 3, createdAtNanoseconds: 0), Tag(name: "gone", version: 99, createdAtNanoseconds: 0)]
        XCTAssertEqual(try RetentionPolicy.latestOnly.select(from: versions, tags: tags), [10])
        XCTAssertEqual(try RetentionPolicy().select(from: versions, tags: tags), [3, 10])
        XCTAssertEqual(try RetentionPolicy(keepLast: 3, keepTags: false).select(from: versions, tags: tags), [8, 9, 10])
        XCTAssertEqual(try RetentionPolicy(keepSince: Date(timeIntervalSince1970: Double(now) / 1e9 + 7.5), keepTags: false).select(from: versions, tags: tags), [8, 9, 10])
        XCTAssertEqual(try RetentionPolicy(keepTags: false, keepVersions: [1, 5, 42]).select(from: versions, tags: tags), [1, 5, 10])
        XCTAssertEqual(try RetentionPolicy(keepAll: true).select(from: versions, tags: tags).count, 10)
        XCTAssertEqual(try RetentionPolicy().select(from: [], tags: tags), [])
    }

    func testAutomaticCompactionKeepsTheFileNearTheLiveData() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        options.automaticCompaction = AutomaticCompaction(policy: RetentionPolicy(keepLast: 2, keepTags: false), fileToLiveRatio: 3, checkEveryCommits: 50)
        let db = try openDatabase(path: directory.path("auto"), options: options)
        try db.write { txn in for i in 0 ..< 2_000 { try txn.put(b(String(format: "k%05d", i)), [UInt8](repeating: 1, count: 40)) } }
        for i in 0 ..< 600 {
            try db.write { try $0.put(b(String(format: "k%05d", i * 7 % 2_000)), b("overwrite \(i)")) }
            if i % 100 == 99 { usleep(50_000) } // let a background compaction finish now and then
        }
        /// Waits for the background thread (measurement or compaction) to finish.
        func waitForIdle() {
            let deadline = Date().addingTimeInterval(60)
            while db.automaticCheckRunning.load(ordering: .acquiring), Date() < deadline { usleep(10_000) }
        }
        waitForIdle()
        // Exactly one more check, on a quiet database: it must find the file too large and compact.
        for i in 600 ..< 650 { try db.write { try $0.put(b(String(format: "k%05d", i * 7 % 2_000)), b("overwrite \(i)")) } }
        usleep(20_000)
        waitForIdle()
        let stats = try db.stats()
        XCTAssertGreaterThan(db.store.header.generation, 1, "no automatic compaction ran")
        XCTAssertLessThan(Double(stats.fileBytes), 3.0 * Double(stats.liveBytes) + Double(60 * db.pageSize * 4),
                          "file \(stats.fileBytes) B against live \(stats.liveBytes) B")
        XCTAssertEqual(db.latestVersion, 651)
        XCTAssertEqual(try db.read { try $0.get(b(String(format: "k%05d", 649 * 7 % 2_000))) }, b("overwrite 649"))
        try db.checkAndClose()
    }

    func testAutomaticPackingIsOnByDefault() throws {
        XCTAssertEqual(DatabaseOptions().automaticCompaction, .packHistory)
        XCTAssertTrue(AutomaticCompaction.packHistory.policy.keepAll)
        XCTAssertEqual(AutomaticCompaction.packHistory.packing, .all)
    }

    func testCompactingAnEmptyDatabaseChangesNothing() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("empty"))
        let report = try db.compact(keeping: .latestOnly)
        XCTAssertEqual(report.generation, 1)
        XCTAssertEqual(report.versionsKept, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path("empty") + "/CURRENT"))
        try db.write { try $0.put(b("k"), b("v")) }
        XCTAssertEqual(db.latestVersion, 1)
        var readOnly = DatabaseOptions()
        readOnly.readOnly = true
        let reader = try openDatabase(path: directory.path("empty"), options: readOnly)
        XCTAssertThrowsError(try reader.compact()) { XCTAssertEqual($0 as? CowDBError, .readOnly) }
        try reader.close()
        try db.checkAndClose()
    }
}
