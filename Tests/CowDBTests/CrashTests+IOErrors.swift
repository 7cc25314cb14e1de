// Failed writes and syncs, at run time and while a database is created.

import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension CrashTests {
    // MARK: I/O errors

    /// A small database on a fault backend with two versions; returns it and the models.
    func makeDatabase(_ backend: FaultInjectionStorage, _ path: String, random: inout SeededGenerator) throws -> (Database, [State]) {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        var models = [State()]
        for _ in 0 ..< 2 {
            var next = models.last!
            var mutations: [Mutation] = []
            for i in 0 ..< 20 {
                let value = random.bytes(i % 7 == 0 ? 6_000 : 40)
                mutations.append(.put(space: "", key: b("key-\(Int.random(in: 0 ..< 50, using: &random))"), value: value))
            }
            Self.apply(mutations, to: &next)
            try db.write { try Self.apply(mutations, to: $0) }
            models.append(next)
        }
        return (db, models)
    }

    /// The mutations of one more commit: small and large values.
    func someCommit(_ random: inout SeededGenerator) -> [Mutation] {
        (0 ..< 12).map { i in .put(space: "", key: b("more-\(Int.random(in: 0 ..< 30, using: &random))"), value: random.bytes(i % 4 == 0 ? 9_000 : 60)) }
    }

    func assertReads(_ db: Database, _ models: [State], file: StaticString = #filePath, line: UInt = #line) {
        for version in 0 ..< UInt64(models.count) {
            XCTAssertEqual(try db.read(at: version) { try Self.readState($0).0 }, models[Int(version)], "version \(version)", file: file, line: line)
        }
    }

    func testFailedWriteFailsThatCommitAndTheNextSucceeds() throws {
        let seed = testSeed("failed-write")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = FaultInjectionStorage()
        var (db, models) = try makeDatabase(backend, path, random: &random)

        // How many writes one commit makes (overflow runs, leaves, commit record, index record).
        let before = backend.counts.writes
        try commitRecording(someCommit(&random), to: db, &models)
        let writesPerCommit = backend.counts.writes - before
        XCTAssertGreaterThanOrEqual(writesPerCommit, 3)

        var failedCommits = 0
        for errorNumber in [ENOSPC, EIO] {
            for k in 1 ... writesPerCommit {
                for persistent in [true, false] {
                    let failed = try commitWithFailingWrite(k, errno: errorNumber, persistent: persistent, db, backend, path: path,
                                                            models: &models, random: &random)
                    if failed { failedCommits += 1 }
                }
            }
        }
        XCTAssertGreaterThan(failedCommits, 0)
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean)
        try db.close()

        // Reopened on the same disk, and after a power cut: every acknowledged commit is there.
        for image in [nil, backend.image(.durableOnly)] {
            db = try openDatabase(path: path, options: Self.options(.full), backend: image.map { FaultInjectionStorage(image: $0) } ?? backend)
            XCTAssertEqual(db.latestVersion, UInt64(models.count - 1))
            assertReads(db, models)
            try db.checkAndClose()
        }
    }

    /// Commits `mutations` and appends the state they make to `models`.
    func commitRecording(_ mutations: [Mutation], to db: Database, _ models: inout [State]) throws {
        try db.write { try Self.apply(mutations, to: $0) }
        var next = models.last!
        Self.apply(mutations, to: &next)
        models.append(next)
    }

    /// A commit whose `k`th write fails with `errorNumber` (once, or until cleared): it fails
    /// whole and leaves no version (or, the index record's write only, succeeds); then, the
    /// fault cleared, the next commit succeeds. Returns whether the commit failed.
    private func commitWithFailingWrite(_ k: Int, errno errorNumber: Int32, persistent: Bool, _ db: Database,
                                        _ backend: FaultInjectionStorage, path: String, models: inout [State],
                                        random: inout SeededGenerator) throws -> Bool {
        let probe = someCommit(&random)
        backend.failWrite(number: backend.counts.writes + k, errno: errorNumber, persistent: persistent)
        let latest = db.latestVersion
        var failed = false
        do {
            try commitRecording(probe, to: db, &models)
            // Only the index record's write may fail without failing the commit
            // (the record stays pending and is rebuilt at the next open).
            XCTAssertEqual(db.latestVersion, latest + 1)
        } catch let error as CowDBError {
            failed = true
            XCTAssertEqual(error, .io(operation: "pwrite", path: path + "/data", errno: errorNumber), "write \(k) of the commit")
            XCTAssertEqual(db.latestVersion, latest, "the failed commit made no version")
            assertReads(db, models)
            if persistent {
                // The disk is still full: the next commit fails too.
                XCTAssertThrowsError(try db.write { try Self.apply(probe, to: $0) })
                XCTAssertEqual(db.latestVersion, latest)
            }
        }
        backend.clearFaults()
        // Space is back: the next commit succeeds.
        try commitRecording(someCommit(&random), to: db, &models)
        XCTAssertEqual(db.latestVersion, UInt64(models.count - 1))
        assertReads(db, models)
        return failed
    }

    /// A failed fdatasync poisons the writer; readers continue; a reopen re-verifies the tail
    /// and writes work again; and nothing acknowledged afterwards is lost in a power cut.
    private func failedSync(_ failure: FaultInjectionStorage.SyncFailure, seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = FaultInjectionStorage()
        var (db, models) = try makeDatabase(backend, path, random: &random)
        let snapshot = try db.snapshot()

        let failing = someCommit(&random)
        var failingState = models.last!
        Self.apply(failing, to: &failingState)
        backend.failNextSync(errno: EIO, failure: failure)
        XCTAssertThrowsError(try db.write { try Self.apply(failing, to: $0) }) { error in
            XCTAssertEqual(error as? CowDBError, .io(operation: "fdatasync", path: path + "/data", errno: EIO))
        }
        // Readers stay on the previous version.
        XCTAssertEqual(db.latestVersion, 2)
        assertReads(db, models)
        XCTAssertEqual(try snapshot.read { try Self.readState($0).0 }, models[2])

        // Writes are refused, even once the disk works again, until the database is reopened.
        backend.clearFaults()
        for _ in 0 ..< 2 {
            XCTAssertThrowsError(try db.write { try $0.put(b("x"), b("y")) }) { error in
                guard case .writerPoisoned = error as? CowDBError else { return XCTFail("expected writerPoisoned, got \(error)") }
            }
        }
        XCTAssertEqual(db.latestVersion, 2)
        assertReads(db, models)
        snapshot.close()
        try db.close()

        // Reopen on the same disk: the failed commit is there whole or not at all.
        db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        XCTAssertTrue([2, 3].contains(db.latestVersion), "latest \(db.latestVersion)")
        if db.latestVersion == 3 { models.append(failingState) }
        if failure == .dropPages { XCTAssertEqual(db.latestVersion, 2, "the dropped pages cannot make a commit") }
        assertReads(db, models)
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean)

        // Writes work again, and what they acknowledge survives a power cut.
        for _ in 0 ..< 2 {
            let mutations = someCommit(&random)
            try db.write { try Self.apply(mutations, to: $0) }
            var next = models.last!
            Self.apply(mutations, to: &next)
            models.append(next)
        }
        let acknowledged = UInt64(models.count - 1)
        XCTAssertEqual(db.latestVersion, acknowledged)
        let image = backend.image(.durableOnly)
        try db.checkAndClose()
        let recovered = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image))
        XCTAssertEqual(recovered.latestVersion, acknowledged, "every commit acknowledged after the reopen survives a power cut (\(failure))")
        if recovered.latestVersion == acknowledged { assertReads(recovered, models) }
        try recovered.checkAndClose()
    }

    func testFailedSyncPoisonsTheWriterUntilReopen() throws {
        try failedSync(.keepDirty, seed: testSeed("failed-sync"))
    }

    func testFailedSyncThatDroppedThePagesLosesOnlyThatCommit() throws {
        try failedSync(.dropPages, seed: testSeed("failed-sync-drop"))
    }

    /// Linux after a writeback error: the dirty pages are marked clean but not written, so the
    /// process still reads them and a later fdatasync succeeds without writing them.
    func testFailedSyncThatMarkedPagesCleanLosesNoLaterCommit() throws {
        try failedSync(.markClean, seed: testSeed("failed-sync-clean"))
    }

    /// A sync failing while the database is created (the parent directory, the new data
    /// file, the directory after the rename) fails the open; the next open works, and what it
    /// then acknowledges survives a power cut: the data file's directory entry must be
    /// durable before a commit is acknowledged.
    func testFailedSyncAtCreationFailsTheOpenAndLosesNothingLater() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for number in 1 ... 3 {
            let backend = FaultInjectionStorage()
            backend.failSync(number: number, errno: EIO)
            XCTAssertThrowsError(try openDatabase(path: path, options: Self.options(.full), backend: backend)) { error in
                guard case .io = error as? CowDBError else { return XCTFail("expected an I/O error, got \(error)") }
            }
            backend.clearFaults()
            let db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
            try db.write { try $0.put(b("k"), b("v")) }
            XCTAssertEqual(db.latestVersion, 1)
            try db.checkAndClose()
            let recovered = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: backend.image(.durableOnly)))
            XCTAssertEqual(recovered.latestVersion, 1, "sync \(number) of the creation failed: the acknowledged commit is lost after a power cut")
            try recovered.close()
        }
    }

    /// A process crash between the rename of the new data file and the sync of its directory;
    /// the next process opens the database and commits: a power cut must not lose that commit.
    func testCrashBeforeDirectorySyncAtCreationLosesNothingLater() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // Steps of a creation: sync of the parent, header write, its sync, rename, directory sync.
        let backend = FaultInjectionStorage()
        backend.crash(afterStep: 4)
        XCTAssertThrowsError(try openDatabase(path: path, options: Self.options(.full), backend: backend))
        let restarted = backend.restartedAfterProcessCrash()
        let db = try openDatabase(path: path, options: Self.options(.full), backend: restarted)
        try db.write { try $0.put(b("k"), b("v")) }
        try db.checkAndClose()
        let recovered = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: restarted.image(.durableOnly)))
        XCTAssertEqual(recovered.latestVersion, 1, "the acknowledged commit is lost after a power cut")
        try recovered.close()
    }

    /// A transaction that throws after appending (an overflow run is written when put) is undone
    /// (zeros over the reserve, else a cut); when that fails, the writer is poisoned (the appended pages could otherwise
    /// verify at the next open), and a reopen finds the last committed version intact.
    func testFailedCutOfAnAbandonedCommitPoisonsTheWriter() throws {
        struct Abort: Error {}
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = FaultInjectionStorage()
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // the lock file's
        let db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        try db.write { try $0.put(Array("kept".utf8), Array("1".utf8)) }
        XCTAssertThrowsError(try db.write { txn in
            try txn.put(Array("big".utf8), [UInt8](repeating: 7, count: 3 * db.pageSize))
            // The undo writes zeros over the reserve, else cuts the file: both fail.
            backend.failNextWrite(errno: EIO)
            backend.failNextTruncate(errno: EIO)
            throw Abort()
        }) { XCTAssertTrue($0 is Abort, "\($0)") }
        XCTAssertThrowsError(try db.write { try $0.put(Array("next".utf8), Array("2".utf8)) }) { error in
            guard case CowDBError.writerPoisoned = error else { return XCTFail("expected writerPoisoned, got \(error)") }
        }
        XCTAssertEqual(try db.read { try $0.get(Array("kept".utf8)) }, Array("1".utf8))
        try db.close()
        let reopened = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        XCTAssertEqual(reopened.latestVersion, 1)
        XCTAssertNil(try reopened.read { try $0.get(Array("big".utf8)) })
        try reopened.close()
    }
}
