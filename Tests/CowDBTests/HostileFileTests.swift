import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Damaged and crafted files: every read either returns exactly what the intact database
/// holds at the version it reads, or throws an error that reports the damage — never a
/// crash, a hang, a read outside the file, or a flipped byte handed out as data.
final class HostileFileTests: XCTestCase {
    /// Keyspaces of the test database (nil: the default one).
    private static let keyspaces: [String?] = [nil, "ks0", "ks1", "ks2"]
    /// Damaged copies per `DamageTarget`.
    private static let copiesPerTarget = 5

    /// A database with history: 16 commits into four keyspaces, overwrites, deletes, values of
    /// 40 bytes and overflow values of one to five pages. Returns the keys it used.
    private func makeDatabase(_ path: String, _ random: inout SeededGenerator) throws -> [[UInt8]] {
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        var keys: [[UInt8]] = []
        for commit in 0 ..< 16 {
            // Overwrites and deletes reach keys of earlier commits; one reached twice in a commit
            // leaves an overflow run no version reaches, where damage is harmless to reads but
            // must still be reported (`check` verifies every run of every region).
            let earlier = keys.count
            try db.write { txn in
                let ks = try txn.keyspaceCreatingIfMissing("ks\(commit % 3)")
                for _ in 0 ..< 40 {
                    let reuse = earlier > 0 && Int.random(in: 0 ..< 4, using: &random) == 0
                    let key = reuse ? keys[Int.random(in: 0 ..< earlier, using: &random)] : random.bytes(Int.random(in: 6 ... 30, using: &random))
                    if !reuse { keys.append(key) }
                    let large = Int.random(in: 0 ..< 10, using: &random) == 0
                    let value = random.bytes(large ? Int.random(in: 3_000 ... 20_000, using: &random) : 40)
                    let target = Bool.random(using: &random) ? try txn.defaultKeyspace : ks
                    if reuse, Int.random(in: 0 ..< 3, using: &random) == 0 { _ = try target.delete(key) } else { try target.put(key, value) }
                }
            }
        }
        try db.close()
        return keys
    }

    /// Every read a user can make, on `damaged`, compared with the intact database.
    private func compareReads(_ damaged: Database, _ comparison: ReadComparison, keys: [[UInt8]], versions: [UInt64]) {
        comparison.compare("versions", damaged) { db in
            var digest = Digest()
            for info in try db.versions() {
                [info.version, info.timestampNanoseconds, info.entryCount, info.fileLength, info.appendedBytes].forEach { digest.add($0) }
            }
            return digest.value
        }
        let latest = versions.last ?? 0
        let scanned: Set<UInt64> = [versions[versions.count / 2], latest]
        for version in versions where version % 3 == 0 || scanned.contains(version) {
            compareVersion(damaged, comparison, version: version, keys: keys, full: scanned.contains(version))
        }
        // The latest as a plain read and as a snapshot: labelled with the version they read.
        var latestRead: UInt64 = 0
        comparison.compare("latest version", damaged) { db in
            latestRead = try db.read { $0.version }
            return 0
        }
        comparison.compare("read() at \(latestRead)", damaged) { db in
            try db.read { txn in try Self.scanDigest(txn, keyspace: nil, reverse: false) }
        }
        comparison.compare("snapshot at \(latestRead)", damaged) { db in
            let snapshot = try db.snapshot(at: latestRead)
            defer { snapshot.close() }
            var digest = Digest()
            for (key, value) in try snapshot.scan(reverse: true) { digest.add(key); digest.add(value) }
            return digest.value
        }
        compareDiffsAndCheck(damaged, comparison, versions: versions)
    }

    /// Gets, `withValue`, `contains`, `withEntries` and (when `full`) scans and cursors both
    /// ways, in every keyspace, at `version`.
    private func compareVersion(_ damaged: Database, _ comparison: ReadComparison, version: UInt64, keys: [[UInt8]], full: Bool) {
        comparison.compare("keyspaces at \(version)", damaged) { db in
            var digest = Digest()
            for name in try db.read(at: version, { try $0.keyspaces() }) { digest.add(name) }
            return digest.value
        }
        let sample = stride(from: version % 7, to: UInt64(keys.count), by: 29).map { keys[Int($0)] } + [b("absent")]
        for name in Self.keyspaces {
            let where_ = "\(name ?? "default") at \(version)"
            comparison.compare("gets in \(where_)", damaged) { db in
                try db.read(at: version) { txn in
                    guard let ks = try Self.keyspace(txn, name) else { return 1 }
                    var digest = Digest()
                    for key in sample {
                        digest.add(try ks.get(key) ?? [0xFF, 0xFE])
                        digest.add(try ks.withValue(for: key) { Array($0) } ?? [0xFD])
                        digest.add(try ks.contains(key) ? 1 : 0)
                        try ks.withEntries(from: key, limit: 3) { key, value in digest.add(key); digest.add(value); return true }
                    }
                    digest.add(try ks.count())
                    return digest.value
                }
            }
            guard full else { continue }
            for reverse in [false, true] {
                comparison.compare("scan\(reverse ? " reverse" : "") in \(where_)", damaged) { db in
                    try db.read(at: version) { try Self.scanDigest($0, keyspace: name, reverse: reverse) }
                }
                comparison.compare("cursor\(reverse ? " reverse" : "") in \(where_)", damaged) { db in
                    try db.read(at: version) { try Self.cursorDigest($0, keyspace: name, reverse: reverse) }
                }
            }
            comparison.compare("withEntries in \(where_)", damaged) { db in
                try db.read(at: version) { txn in
                    guard let ks = try Self.keyspace(txn, name) else { return 1 }
                    var digest = Digest()
                    try ks.withEntries { key, value in digest.add(key); digest.add(value); return true }
                    return digest.value
                }
            }
        }
    }

    /// Diffs between several pairs of versions, `check` of every version and `stats`.
    private func compareDiffsAndCheck(_ damaged: Database, _ comparison: ReadComparison, versions: [UInt64]) {
        let latest = versions.last ?? 0
        for (from, to) in [(0, latest), (latest / 2, latest), (latest, 1), (latest - 1, latest)] {
            comparison.compare("diff \(from) → \(to)", damaged) { db in
                try db.diffAllKeyspaces(from: from, to: to) { diff in
                    var digest = Digest()
                    for entry in diff {
                        digest.add(entry.keyspace ?? "-")
                        digest.add(entry.key)
                        digest.add(entry.oldValue ?? [0xFF, 0xFE])
                        digest.add(entry.newValue ?? [0xFF, 0xFE])
                    }
                    return digest.value
                }
            }
        }
        comparison.compare("diff ks1 \(latest / 3) → \(latest)", damaged) { db in
            try db.diff(from: latest / 3, to: latest, keyspace: "ks1") { diff in
                var digest = Digest()
                try diff.forEachWithoutCopying { view in digest.add(view.key); digest.add(view.newValue ?? UnsafeRawBufferPointer(start: nil, count: 0)) }
                return digest.value
            }
        }
        comparison.compare("check all versions", damaged) { db in
            let report = try db.check(allVersions: true)
            var digest = Digest()
            report.versions.forEach { digest.add($0) }
            digest.add(UInt64(report.pagesVerified))
            return digest.value
        }
        comparison.compare("stats at \(latest)", damaged) { db in
            var digest = Digest()
            digest.add("\(try db.stats(version: latest).keyspaces)")
            return digest.value
        }
    }

    /// Backup and copy of the damaged database (both read every page they take), then the
    /// same reads on what they wrote; compaction (a writer's read of the kept versions) last.
    private func compareCopies(_ damagedPath: String, _ comparison: ReadComparison, scratch: String) {
        var options = DatabaseOptions()
        options.lockTimeout = 0
        options.durability = .none
        guard let db = try? Database(path: damagedPath, options: options) else { return } // unchecked-open: a damaged copy
        defer { try? db.close() }
        comparison.compare("backup", db) { db in
            try? FileManager.default.removeItem(atPath: scratch)
            let report = try db.backup(to: scratch)
            return try Self.latestDigest(scratch, version: report.version)
        }
        let version = db.latestVersion - 1
        comparison.compare("copy at \(version)", db) { db in
            try? FileManager.default.removeItem(atPath: scratch)
            try db.copy(to: scratch, version: version)
            return try Self.latestDigest(scratch, version: version)
        }
        comparison.compare("compact", db) { db in
            try? FileManager.default.removeItem(atPath: scratch)
            _ = try db.backup(to: scratch) // compacted in its own copy: the intact one stays as it is
            let copy = try Database(path: scratch, options: options) // unchecked-open: a copy made from a damaged copy, compared with the intact database
            defer { try? copy.close() }
            _ = try copy.compact(keeping: RetentionPolicy(keepLast: 3))
            var digest = Digest()
            for version in try copy.versions().map(\.version) {
                digest.add(version)
                try copy.read(at: version) { txn in for name in try txn.keyspaces() { digest.add(try Self.scanDigest(txn, keyspace: name, reverse: false)) } }
            }
            return digest.value
        }
    }

    /// Versions and every keyspace's entries of the database at `path`, read through a new
    /// read-only instance (whose reads verify every page it has not verified yet).
    private static func latestDigest(_ path: String, version: UInt64) throws -> UInt64 {
        var options = DatabaseOptions()
        options.readOnly = true
        let db = try Database(path: path, options: options) // unchecked-open: a backup or copy of a damaged copy, compared with the intact database
        defer { try? db.close() }
        var digest = Digest()
        digest.add(version)
        digest.add(db.latestVersion)
        try db.read { txn in
            digest.add(try scanDigest(txn, keyspace: nil, reverse: false))
            for name in try txn.keyspaces() { digest.add(try scanDigest(txn, keyspace: name, reverse: true)) }
        }
        return digest.value
    }

    /// The keyspace `name` of `txn` (nil when it does not exist at that version).
    private static func keyspace(_ txn: ReadTransaction, _ name: String?) throws -> Keyspace? {
        guard let name else { return try txn.defaultKeyspace }
        return try txn.keyspaces().contains(name) ? try txn.keyspace(name) : nil
    }

    /// A digest of a keyspace's entries read by `scan`.
    private static func scanDigest(_ txn: ReadTransaction, keyspace name: String?, reverse: Bool) throws -> UInt64 {
        guard let ks = try keyspace(txn, name) else { return 1 }
        var digest = Digest()
        for (key, value) in try ks.scan(reverse: reverse) { digest.add(key); digest.add(value) }
        return digest.value
    }

    /// A digest of a keyspace's entries read by a cursor, first to last or last to first.
    private static func cursorDigest(_ txn: ReadTransaction, keyspace name: String?, reverse: Bool) throws -> UInt64 {
        guard let ks = try keyspace(txn, name) else { return 1 }
        var cursor = try ks.cursor()
        var digest = Digest()
        var entry = try reverse ? cursor.last() : cursor.first()
        while let (key, value) = entry {
            digest.add(key)
            digest.add(value)
            entry = try reverse ? cursor.previous() : cursor.next()
        }
        return digest.value
    }

    func testEveryReadOfADamagedCopyIsRightOrReportsDamage() throws {
        let seed = testSeed("hostile")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let original = directory.path("original")
        let keys = try makeDatabase(original, &random)
        var readOnly = DatabaseOptions()
        readOnly.readOnly = true
        let intact = try openDatabase(path: original, options: readOnly)
        defer { try? intact.close() }
        let versions = try intact.versions().map(\.version)
        let data = Array(try Data(contentsOf: URL(fileURLWithPath: original + "/data")))
        let index = Array(try Data(contentsOf: URL(fileURLWithPath: original + "/index")))
        let damage = FileDamage(data: data, pageSize: intact.pageSize)
        XCTAssertFalse(damage.pagesByKind[1, default: []].isEmpty, "the test database must have branch pages")
        XCTAssertFalse(damage.pagesByKind[3, default: []].isEmpty, "the test database must have overflow pages")
        let comparison = ReadComparison(intact: intact)
        var detectedByCheck = 0, dataDamage = 0
        let targets = DamageTarget.allCases
        for round in 0 ..< Self.copiesPerTarget * targets.count {
            let target = targets[round % targets.count]
            var bytes = data, indexBytes = index
            let what = (0 ..< Int.random(in: 1 ... 3, using: &random))
                .map { _ in damage.damage(target, data: &bytes, index: &indexBytes, using: &random) }.joined(separator: "; ")
            let copy = directory.path("damaged-\(round)")
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: copy + "/data"))
            try Data(indexBytes).write(to: URL(fileURLWithPath: copy + "/index"))
            comparison.beginCopy("seed \(seed), copy \(round), \(target): \(what)")
            do {
                let damaged = try Database(path: copy, options: readOnly) // unchecked-open: a damaged copy
                compareReads(damaged, comparison, keys: keys, versions: versions)
                try? damaged.close()
            } catch {
                XCTAssertTrue(ReadComparison.reportsDamage(error, label: "open", in: nil), "\(comparison.context): open threw \(error)")
                comparison.openReportedDamage()
            }
            if target != .index, bytes != data {
                // Every byte of the data file is covered by a checksum: check must see the change.
                dataDamage += 1
                if comparison.reportedOnCopy > 0 { detectedByCheck += 1 }
                XCTAssertGreaterThan(comparison.reportedOnCopy, 0, "\(comparison.context): damage went unreported")
            }
            if round % 3 == 0 { compareCopies(copy, comparison, scratch: directory.path("scratch")) }
            try? FileManager.default.removeItem(atPath: copy)
        }
        print("hostile: \(Self.copiesPerTarget * targets.count) damaged copies, \(comparison.matched) reads matched the intact database, \(comparison.reported) reported damage; \(detectedByCheck) of \(dataDamage) data-file damages reported")
        XCTAssertGreaterThan(comparison.matched, 0)
    }

    func testNotADatabase() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("text")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Data("hello, this is not a database at all".utf8).write(to: URL(fileURLWithPath: path + "/data"))
        XCTAssertThrowsError(try Database(path: path)) { // unchecked-open: not a database: the open must fail
            guard case CowDBError.notADatabase = $0 else { return XCTFail("\($0)") }
        }
        try Data(repeating: 0, count: 0).write(to: URL(fileURLWithPath: path + "/data"))
        XCTAssertThrowsError(try Database(path: path)) { // unchecked-open: not a database: the open must fail
            guard case CowDBError.notADatabase = $0 else { return XCTFail("\($0)") }
        }
    }
}
