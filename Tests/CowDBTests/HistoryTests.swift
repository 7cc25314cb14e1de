import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Rollback (one commit repeating an old version's roots) and tags (named versions in a file
/// beside the data file).
final class HistoryTests: XCTestCase {
    /// Five versions of different content: puts, deletes, a keyspace, an overflow value.
    private func makeHistory(_ db: Database) throws {
        for round in 1 ... 5 {
            try db.write { txn in
                for i in 0 ..< 200 { try txn.put(b(String(format: "k%04d", i * round % 211)), b("r\(round)-\(i)")) }
                if round == 2 { try txn.createKeyspace("users").put(b("ann"), [UInt8](repeating: 1, count: 10_000)) }
                if round == 4 { try txn.dropKeyspace("users") }
                if round >= 3 { for i in stride(from: 0, to: 211, by: 7) { _ = try txn.delete(b(String(format: "k%04d", i))) } }
            }
        }
    }

    // MARK: Rollback

    func testRollbackCommitsTheOldContentInOnePage() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("rollback"))
        try makeHistory(db)
        let before = try (0 ... 5).map { try db.contentOfEveryKeyspace(at: $0) }
        let length = try db.versions().last!.fileLength
        XCTAssertEqual(try db.rollback(to: 2), 6)
        XCTAssertEqual(db.latestVersion, 6)
        XCTAssertEqual(try db.versions().last!.fileLength, length + UInt64(db.pageSize), "a rollback appends one page")
        XCTAssertEqual(try db.contentOfEveryKeyspace(at: 6), before[2])
        XCTAssertEqual(try db.read { try $0.keyspaces() }, ["users"])
        XCTAssertEqual(try db.read { try $0.count }, try db.read(at: 2) { try $0.count })
        for version in 0 ... 5 { XCTAssertEqual(try db.contentOfEveryKeyspace(at: UInt64(version)), before[version], "version \(version) changed") }
        XCTAssertEqual(try db.rolledBackFrom(version: 6), 2)
        // The rollback's trees are version 2's: a diff between them reads no page at all.
        try db.diffAllKeyspaces(from: 2, to: 6) { changes in
            XCTAssertEqual(Array(changes).count, 0)
            XCTAssertEqual(try changes.pagesVisited, 0)
        }
        // Version 5 plus the diff from 5 to the rollback is the rollback's content.
        var entries = Dictionary(uniqueKeysWithValues: try db.read(at: 5) { try $0.scan().map { ($0.key, $0.value) } })
        try db.diff(from: 5, to: 6) { changes in
            for change in changes { entries[change.key] = change.newValue }
            XCTAssertGreaterThan(try changes.pagesVisited, 0)
        }
        XCTAssertEqual(sortedEntries(entries).map(\.key), try db.read(at: 6) { try $0.scan().map(\.key) })
        XCTAssertNil(try db.rolledBackFrom(version: 5))
        // Rolling back to the latest commits nothing; writes build on the restored content.
        XCTAssertEqual(try db.rollback(to: 6), 6)
        XCTAssertEqual(db.latestVersion, 6)
        try db.write { try $0.put(b("after"), b("rollback")) }
        var expected = before[2]
        expected[""] = try db.read(at: 7) { try $0.scan().flatMap { [$0.key, $0.value] } }
        XCTAssertEqual(try db.contentOfEveryKeyspace(at: 7), expected)
        XCTAssertEqual(try db.read(at: 7) { try $0.get(b("after")) }, b("rollback"))
        // To the empty database, and to a rollback itself.
        XCTAssertEqual(try db.rollback(to: 0), 8)
        XCTAssertEqual(try db.contentOfEveryKeyspace(at: 8), ["": []])
        XCTAssertEqual(try db.read { try $0.count }, 0)
        XCTAssertEqual(try db.rolledBackFrom(version: 8), 0)
        XCTAssertEqual(try db.rollback(to: 6), 9)
        XCTAssertEqual(try db.contentOfEveryKeyspace(at: 9), before[2])
        try db.close()
        // Everything survives a reopen (recovery accepts commits that append no other page).
        let reopened = try openDatabase(path: directory.path("rollback"))
        XCTAssertEqual(reopened.latestVersion, 9)
        XCTAssertEqual(try reopened.contentOfEveryKeyspace(at: 9), before[2])
        XCTAssertEqual(try reopened.rolledBackFrom(version: 8), 0)
        XCTAssertEqual(try reopened.rolledBackFrom(version: 6), 2)
        try reopened.checkAndClose()
    }

    func testRollbackRejectsUnknownVersionsAndReadOnly() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("bad-rollback")
        let db = try openDatabase(path: path)
        XCTAssertEqual(try db.rollback(to: 0), 0, "an empty database is already at version 0")
        XCTAssertThrowsError(try db.rollback(to: 1)) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(1)) }
        try makeHistory(db)
        XCTAssertThrowsError(try db.rollback(to: 6)) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(6)) }
        XCTAssertThrowsError(try db.rollback(to: .max)) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(.max)) }
        XCTAssertEqual(db.latestVersion, 5)
        try db.close()
        XCTAssertThrowsError(try db.rollback(to: 1)) { XCTAssertEqual($0 as? CowDBError, .closed) }
        var options = DatabaseOptions()
        options.readOnly = true
        let reader = try openDatabase(path: path, options: options)
        XCTAssertThrowsError(try reader.rollback(to: 1)) { XCTAssertEqual($0 as? CowDBError, .readOnly) }
        try reader.close()
    }

    func testReadOnlyProcessSeesARollback() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("watched-rollback")
        let db = try openDatabase(path: path)
        try makeHistory(db)
        var options = DatabaseOptions()
        options.readOnly = true
        let reader = try openDatabase(path: path, options: options)
        XCTAssertEqual(reader.latestVersion, 5)
        try db.rollback(to: 1)
        XCTAssertEqual(try reader.read { $0.version }, 6)
        XCTAssertEqual(try reader.contentOfEveryKeyspace(at: 6), try db.contentOfEveryKeyspace(at: 1))
        try reader.close()
        try db.checkAndClose()
    }

    // MARK: Tags

    func testTagsNameVersionsDurablyAndOutsideTheTrees() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("tags")
        let db = try openDatabase(path: path)
        try makeHistory(db)
        XCTAssertEqual(try db.tags(), [])
        try db.tag("before-migration", version: 2)
        try db.tag("empty", version: 0)
        try db.tag("latest", version: 5)
        XCTAssertEqual(try db.tags().map(\.name), ["before-migration", "empty", "latest"])
        XCTAssertEqual(try db.tag(named: "before-migration").version, 2)
        XCTAssertEqual(try db.read(tag: "before-migration") { $0.version }, 2)
        XCTAssertEqual(try db.read(tag: "empty") { try $0.count }, 0)
        // Tags are not versioned: a commit neither adds nor removes them, and no version is added.
        try db.write { try $0.put(b("x"), b("y")) }
        XCTAssertEqual(db.latestVersion, 6)
        XCTAssertEqual(try db.tags().count, 3)
        // Moving and deleting.
        try db.tag("latest", version: 6)
        XCTAssertEqual(try db.tag(named: "latest").version, 6)
        try db.deleteTag("empty")
        XCTAssertThrowsError(try db.deleteTag("empty")) { XCTAssertEqual($0 as? CowDBError, .tagNotFound("empty")) }
        XCTAssertThrowsError(try db.read(tag: "empty") { _ in }) { XCTAssertEqual($0 as? CowDBError, .tagNotFound("empty")) }
        // Bad input.
        XCTAssertThrowsError(try db.tag("", version: 1)) { XCTAssertEqual($0 as? CowDBError, .invalidTagName("")) }
        XCTAssertThrowsError(try db.tag("a\nb", version: 1)) { XCTAssertEqual($0 as? CowDBError, .invalidTagName("a\nb")) }
        XCTAssertThrowsError(try db.tag(String(repeating: "t", count: 256), version: 1))
        XCTAssertThrowsError(try db.tag("future", version: 7)) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(7)) }
        let unicode = "étiquette-✓"
        try db.tag(unicode, version: 3)
        try db.close()
        // Durable, and visible to a read-only process.
        var options = DatabaseOptions()
        options.readOnly = true
        let reader = try openDatabase(path: path, options: options)
        XCTAssertEqual(try reader.tags().map(\.name), ["before-migration", "latest", unicode])
        XCTAssertEqual(try reader.read(tag: unicode) { $0.version }, 3)
        XCTAssertThrowsError(try reader.tag("x", version: 1)) { XCTAssertEqual($0 as? CowDBError, .readOnly) }
        try reader.close()
    }

    func testDamagedTagsFileIsATypedErrorAndLeftoverTemporaryIsRemoved() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("damaged-tags")
        let db = try openDatabase(path: path)
        try makeHistory(db)
        try db.tag("one", version: 1)
        try db.tag("two", version: 2)
        try db.close()
        let original = try Data(contentsOf: URL(fileURLWithPath: path + "/tags"))
        for position in [0, 9, 13, 17, 20, original.count - 1] {
            var damaged = original
            damaged[position] ^= 0x40
            try damaged.write(to: URL(fileURLWithPath: path + "/tags"))
            let reopened = try openDatabase(path: path)
            XCTAssertThrowsError(try reopened.tags(), "byte \(position)") { error in
                guard case .corrupt = error as? CowDBError else { return XCTFail("\(error)") }
            }
            XCTAssertEqual(try reopened.read { $0.version }, 5, "data reads are unaffected")
            try reopened.close()
        }
        for length in [0, 5, 19, original.count - 3] {
            try original.prefix(length).write(to: URL(fileURLWithPath: path + "/tags"))
            let reopened = try openDatabase(path: path)
            XCTAssertThrowsError(try reopened.tags(), "cut to \(length)")
            try reopened.close()
        }
        try original.write(to: URL(fileURLWithPath: path + "/tags"))
        XCTAssertTrue(FileManager.default.createFile(atPath: path + "/tags.tmp", contents: Data("half-written".utf8)))
        let reopened = try openDatabase(path: path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/tags.tmp"), "a writer's open removes a leftover tags.tmp")
        XCTAssertEqual(try reopened.tags().map(\.name), ["one", "two"])
        try reopened.checkAndClose()
    }

    func testTagFileCodecRoundTrip() throws {
        let tags = [Tag(name: "b", version: 2, createdAtNanoseconds: 20), Tag(name: "a", version: 1, createdAtNanoseconds: 10)]
        let bytes = TagFile.encode(tags)
        XCTAssertEqual(Array(bytes.prefix(8)), Array("CowTags".utf8) + [0])
        XCTAssertEqual(bytes.count, 16 + 2 * (2 + 1 + 16) + 4)
        XCTAssertEqual(try TagFile.decode(bytes, path: "t"), tags.reversed())
    }

    /// Only a missing tags file means "no tags": an I/O error reading it throws (the operation
    /// fuzzer saw `tags()` return an empty list on a disk that had failed).
    func testTagsThrowOnAnIOErrorInsteadOfReportingNone() throws {
        let directory = TemporaryDirectory()
        let base = directory.path("base"), path = base + "/db"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // the real lock file
        let backend = FaultInjectionStorage(durableDirectories: [base])
        let db = try Database(path: path, options: CrashTests.options(.full), backend: backend) // unchecked-open: its disk fails on purpose
        XCTAssertEqual(try db.tags().map(\.name), [])
        try db.write { try $0.put(b("k"), b("v")) }
        try db.tag("first", version: 1)
        XCTAssertEqual(try db.tags().map(\.name), ["first"])
        backend.crash(afterStep: 0)
        XCTAssertThrowsError(try db.tags()) { error in
            guard case CowDBError.io = error else { return XCTFail("\(error)") }
        }
        try? db.close()
    }
}
