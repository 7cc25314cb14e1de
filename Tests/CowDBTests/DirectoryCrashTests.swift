import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Power cuts while a database is created under directories that do not exist yet (or that
/// exist but were never synced): `FaultInjectionStorage` keeps directories as a tree, so a
/// power-cut image loses every entry of a directory not synced since it was made, and with a
/// directory everything below it. Every commit acknowledged must survive anyway.
final class DirectoryCrashTests: XCTestCase {
    typealias Step = CrashTests.Step

    /// Three small commits, a reopen, one more.
    static func workload(seed: UInt64) -> [Step] {
        var random = SeededGenerator(seed: seed)
        func commit(_ n: Int) -> Step {
            .commit((0 ..< 4).map { i in .put(space: "", key: b("k\(n)-\(i)"), value: random.bytes(Int.random(in: 1 ... 300, using: &random))) })
        }
        return [commit(1), commit(2), commit(3), .reopen, commit(4)]
    }

    /// Crashes the creation of the database at `relative` (under a durable base directory) at
    /// every step, after `prepare` ran on the fresh disk; checks every acknowledged commit
    /// survives the page cache, the durable state alone, and four power cuts.
    func sweep(_ relative: String, name: String, prepare: (FaultInjectionStorage, String) throws -> Void = { _, _ in }) throws {
        let seed = testSeed(name)
        let directory = TemporaryDirectory()
        let base = directory.path("base")
        let path = base + "/" + relative
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // for the real lock file
        let workload = Self.workload(seed: seed)
        func fresh() throws -> FaultInjectionStorage {
            let backend = FaultInjectionStorage(durableDirectories: [base])
            try prepare(backend, path)
            return backend
        }
        let counter = try fresh()
        let clean = CrashTests.run(workload, backend: counter, path: path, durability: .full)
        XCTAssertNil(clean.error)
        XCTAssertEqual(clean.violations, [])
        XCTAssertEqual(clean.acknowledged, 4)
        var random = SeededGenerator(seed: seed)
        var failures: [String] = []
        for point in 1 ... counter.counts.steps {
            let backend = try fresh()
            backend.crash(afterStep: point)
            let outcome = CrashTests.run(workload, backend: backend, path: path, durability: .full)
            failures += outcome.violations.map { "crash point \(point): \($0)" }
            var kinds: [(String, FaultInjectionStorage.ImageKind)] = [("process crash", .processCrash), ("durable only", .durableOnly)]
            for i in 0 ..< 4 { kinds.append(("power cut \(i)", .powerCut(seed: random.next(), tear: i % 2 == 1))) }
            for (label, kind) in kinds {
                let problems = CrashTests.verify(backend.image(kind), path: path, durability: .full, outcome: outcome, expectation: .exact)
                failures += problems.prefix(2).map { "crash point \(point) (\(outcome.acknowledged) acknowledged), \(label): \($0)" }
            }
        }
        print("\(name): \(counter.counts.steps) crash points, \(failures.count) failures")
        for failure in failures.prefix(8) { XCTFail("\(name) seed \(seed): \(failure)") }
        if failures.count > 8 { XCTFail("\(name): \(failures.count) failures in all") }
    }

    /// `Database(path:)` creates three missing levels above the database directory.
    func testCrashSweepCreatingUnderMissingParents() throws {
        try sweep("a/b/c/db", name: "directory-sweep-missing-parents")
    }

    /// The parents exist in the page cache only (an application's `mkdir -p`, or an open that
    /// failed after its mkdir): the new database must make them durable too.
    func testCrashSweepCreatingUnderUnsyncedParents() throws {
        try sweep("a/b/db", name: "directory-sweep-unsynced-parents") { backend, path in
            try backend.makeDirectory((path as NSString).deletingLastPathComponent)
        }
    }

    /// A backup and a copy into directories that do not exist yet: once they return, a power
    /// cut leaves them whole (every level of their paths synced, the backup's index too).
    func testBackupAndCopyUnderMissingParentsSurviveAPowerCut() throws {
        let directory = TemporaryDirectory()
        let base = directory.path("base")
        let path = base + "/db", backup = base + "/p/q/backup", copy = base + "/x/z/copy"
        for real in [path, backup, copy] { try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: true) } // real lock files
        let backend = FaultInjectionStorage(durableDirectories: [base])
        let db = try openDatabase(path: path, options: CrashTests.options(.full), backend: backend)
        for i in 0 ..< 3 { try db.write { try $0.put(b("k\(i)"), b("v\(i)")) } }
        try db.backup(to: backup)
        try db.copy(to: copy)
        try db.close()
        for (label, kind) in [("durable only", FaultInjectionStorage.ImageKind.durableOnly), ("power cut", .powerCut(seed: 1, tear: true))] {
            let image = backend.image(kind)
            XCTAssertNotNil(image.files[backup + "/data"], "\(label): the backup's data file")
            XCTAssertNotNil(image.files[backup + "/index"], "\(label): the backup's index")
            let restored = FaultInjectionStorage(image: image)
            for (destination, version) in [(backup, UInt64(3)), (copy, 1)] {
                let reopened = try openDatabase(path: destination, options: CrashTests.options(.full), backend: restored)
                XCTAssertEqual(reopened.latestVersion, version, "\(label): \(destination)")
                XCTAssertEqual(try reopened.read { try $0.get(b("k2")) }, b("v2"), "\(label): \(destination)")
                try reopened.close()
            }
        }
    }

    /// A new database syncs each level of its path: an I/O error at any level fails the open;
    /// a level above the database directory that cannot be synced (EINVAL, EACCES) is skipped.
    func testNewDatabaseSyncsEveryLevelAndSkipsOnlyUnsyncableAncestors() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("base") + "/a/db"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // the real lock file
        let levels = path.split(separator: "/").count + 1 // "/" too
        for number in 1 ... levels {
            for code in [EIO, EINVAL, EACCES] {
                let backend = FaultInjectionStorage()
                backend.failSync(number: number, errno: code)
                let opened = Result { try Database(path: path, options: CrashTests.options(.full), backend: backend) } // unchecked-open: a sync made to fail at each level; most opens fail on purpose
                let skippable = number > 1 && code != EIO
                switch opened {
                case let .success(db):
                    XCTAssertTrue(skippable, "sync \(number) failing with \(code) must fail the open")
                    try db.close()
                case let .failure(error):
                    XCTAssertFalse(skippable, "sync \(number) failing with \(code) failed the open: \(error)")
                }
            }
        }
    }

    /// The walk up a path ends at "/" or ".", whatever the slashes.
    func testParentDirectory() {
        let cases = ["/a/b": "/a", "/a": "/", "/": "/", "a": ".", ".": ".", "a/b/": "a", "a//b": "a",
                     "//": "/", "//x": "/", "/a//": "/", "./db": ".", "a/..": "a", "": "."]
        for (path, parent) in cases { XCTAssertEqual(parentDirectory(of: path), parent, path) }
    }

    /// The image drops what hangs from a directory whose entry was never synced.
    func testImageDropsEntriesOfAnUnsyncedDirectory() throws {
        let backend = FaultInjectionStorage(durableDirectories: ["/base"])
        try backend.makeDirectory("/base/a/b")
        let file = try backend.open("/base/a/b/f", create: true, readOnly: false)
        try [UInt8](repeating: 7, count: 10).withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
        try backend.syncDirectory("/base/a/b")
        try backend.syncDirectory("/base/a")
        XCTAssertNil(backend.image(.durableOnly).files["/base/a/b/f"], "/base/a is not durable in /base")
        XCTAssertFalse(backend.image(.durableOnly).directories.contains("/base/a/b"))
        XCTAssertEqual(backend.image(.processCrash).files["/base/a/b/f"], [UInt8](repeating: 7, count: 10))
        try backend.syncDirectory("/base")
        XCTAssertEqual(backend.image(.durableOnly).files["/base/a/b/f"], [UInt8](repeating: 7, count: 10))
        XCTAssertThrowsError(try backend.syncDirectory("/base/missing"))
        file.close()
    }
}
