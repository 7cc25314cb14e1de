import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Incremental backup of the append-only file, and copies of one version.
final class BackupTests: XCTestCase {
    /// Commits `rounds` versions of puts (some large) and deletes, and a keyspace.
    private static func commit(_ db: Database, rounds: Range<Int>) throws {
        for round in rounds {
            try db.write { txn in
                for i in 0 ..< 50 { try txn.put(b("k\((i * 7 + round) % 300)"), b("round \(round) item \(i)")) }
                if round % 4 == 0 { try txn.keyspaceCreatingIfMissing("big").put(b("v\(round)"), [UInt8](repeating: UInt8(round & 0xFF), count: 9_000)) }
                if round % 3 == 0 { _ = try txn.delete(b("k\(round % 300)")) }
            }
        }
    }

    /// Asserts that every version of `backup` reads like the same version of `source`.
    private func assertSameHistory(_ source: Database, _ backupPath: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var options = DatabaseOptions()
        options.readOnly = true
        let copy = try openDatabase(path: backupPath, options: options)
        defer { try? copy.close() }
        XCTAssertEqual(copy.latestVersion, source.latestVersion, file: file, line: line)
        XCTAssertEqual(try copy.versions(), try source.versions(), file: file, line: line)
        for version in 0 ... source.latestVersion {
            XCTAssertEqual(try copy.contentOfEveryKeyspace(at: version), try source.contentOfEveryKeyspace(at: version), "version \(version)", file: file, line: line)
        }
        XCTAssertTrue(try copy.checkReport(allVersions: true).isClean, file: file, line: line)
        XCTAssertEqual(try copy.tags(), try source.tags(), file: file, line: line)
    }

    func testFirstBackupIsFullAndLaterOnesAppendOnlyWhatIsNew() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("source"))
        let backupPath = directory.path("backup")
        try Self.commit(db, rounds: 0 ..< 10)
        try db.tag("ten", version: 10)
        let first = try db.backup(to: backupPath)
        XCTAssertFalse(first.isIncremental)
        XCTAssertEqual(first.version, 10)
        XCTAssertEqual(first.bytesCopied, try db.versions().last!.fileLength)
        try assertSameHistory(db, backupPath)

        try Self.commit(db, rounds: 10 ..< 25)
        let lengthBefore = first.fileBytes
        let second = try db.backup(to: backupPath)
        XCTAssertTrue(second.isIncremental)
        XCTAssertEqual(second.previousVersion, 10)
        XCTAssertEqual(second.version, 25)
        XCTAssertEqual(second.bytesCopied, try db.versions().last!.fileLength - lengthBefore, "exactly the bytes committed since")
        try assertSameHistory(db, backupPath)

        let third = try db.backup(to: backupPath)
        XCTAssertEqual(third.bytesCopied, 0)
        XCTAssertEqual(third.previousVersion, 25)
        // The backup is a database of its own: it opens for writing and diverges from there.
        try db.checkAndClose()
    }

    func testBackupWhileAWriterCommits() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("busy"), options: options)
        try Self.commit(db, rounds: 0 ..< 5)
        let writer = Thread { try? BackupTests.commit(db, rounds: 5 ..< 200) }
        writer.start()
        var reports: [BackupReport] = []
        for _ in 0 ..< 5 {
            let report = try db.backup(to: directory.path("busy-backup"))
            reports.append(report)
            // Each backup, restored, opens, checks clean and equals the source at its version.
            var readOnly = DatabaseOptions()
            readOnly.readOnly = true
            let restored = try openDatabase(path: directory.path("busy-backup"), options: readOnly)
            XCTAssertEqual(restored.latestVersion, report.version)
            XCTAssertEqual(try restored.contentOfEveryKeyspace(at: report.version), try db.contentOfEveryKeyspace(at: report.version))
            XCTAssertTrue(try restored.checkReport().isClean)
            try restored.close()
            usleep(2000)
        }
        while !writer.isFinished { usleep(1000) }
        reports.append(try db.backup(to: directory.path("busy-backup")))
        XCTAssertEqual(reports.dropFirst().filter { !$0.isIncremental }.count, 0)
        XCTAssertEqual(reports.last?.version, 200)
        try assertSameHistory(db, directory.path("busy-backup"))
        try db.checkAndClose()
    }

    func testForeignDivergedAndInterruptedDestinations() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("source"))
        try Self.commit(db, rounds: 0 ..< 6)
        // Another database is refused, unless a full backup replaces it.
        let other = try openDatabase(path: directory.path("other"))
        try Self.commit(other, rounds: 0 ..< 2)
        try other.close()
        XCTAssertThrowsError(try db.backup(to: directory.path("other"))) { error in
            guard case .invalidArgument(let why) = error as? CowDBError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("another database"), why)
        }
        XCTAssertFalse(try db.backup(to: directory.path("other"), full: true).isIncremental)
        try assertSameHistory(db, directory.path("other"))

        // A backup that was written to has diverged.
        let backupPath = directory.path("backup")
        try db.backup(to: backupPath)
        let written = try openDatabase(path: backupPath)
        try written.write { try $0.put(b("only in the backup"), b("x")) }
        try written.close()
        try Self.commit(db, rounds: 6 ..< 8)
        XCTAssertThrowsError(try db.backup(to: backupPath)) { error in
            guard case .invalidArgument(let why) = error as? CowDBError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("diverged") || why.contains("prefix"), why)
        }
        try db.backup(to: backupPath, full: true)
        try assertSameHistory(db, backupPath)

        // An interrupted incremental backup leaves a torn tail: the next one cuts it off.
        var data = try Data(contentsOf: URL(fileURLWithPath: backupPath + "/data"))
        data.append(Data(repeating: 0xAB, count: 5_000))
        try data.write(to: URL(fileURLWithPath: backupPath + "/data"))
        try Self.commit(db, rounds: 8 ..< 10)
        XCTAssertTrue(try db.backup(to: backupPath).isIncremental)
        try assertSameHistory(db, backupPath)

        // Something that is not a database is refused.
        try FileManager.default.createDirectory(atPath: directory.path("junk"), withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: directory.path("junk") + "/data", contents: Data("junk".utf8)))
        XCTAssertThrowsError(try db.backup(to: directory.path("junk")))
        try db.checkAndClose()
    }

    func testCopyHoldsOneVersionRepacked() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("source"), options: options)
        try Self.commit(db, rounds: 0 ..< 40)
        try db.copy(to: directory.path("copy-20"), version: 20)
        try db.copy(to: directory.path("copy-latest"))
        XCTAssertThrowsError(try db.copy(to: directory.path("copy-20"))) { error in
            guard case .invalidArgument = error as? CowDBError else { return XCTFail("\(error)") }
        }
        for (name, version) in [("copy-20", UInt64(20)), ("copy-latest", db.latestVersion)] {
            let copy = try openDatabase(path: directory.path(name))
            XCTAssertEqual(copy.latestVersion, 1)
            XCTAssertEqual(try copy.contentOfEveryKeyspace(at: 1), try db.contentOfEveryKeyspace(at: version))
            let copyBytes = try copy.versions().last!.fileLength
            let sourceBytes = try db.versions().last!.fileLength
            XCTAssertLessThan(copyBytes, sourceBytes / 4, "\(name): a copy of one version is much smaller than the history")
            try copy.checkAndClose()
        }
        try db.checkAndClose()
    }
}
