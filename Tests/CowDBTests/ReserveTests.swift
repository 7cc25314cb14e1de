import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage

/// The reserve (CowDBStorage/Generation+Reserve.swift, FORMAT.md "The reserve"): zeros a durable
/// writer keeps past the last commit, so that its commits overwrite allocated blocks.
final class ReserveTests: XCTestCase {
    private func dataLength(_ path: String) throws -> UInt64 {
        (try FileManager.default.attributesOfItem(atPath: path + "/data")[.size] as? NSNumber)?.uint64Value ?? 0
    }

    /// Bytes up to the end of the latest commit.
    private func committedLength(_ db: Database) throws -> UInt64 { try db.versions().last?.fileLength ?? UInt64(db.pageSize) }

    func testChunkGrowsWithTheFileWithinItsBounds() {
        XCTAssertEqual(Generation.reserveChunk(forLength: 4096, pageSize: 4096), 256 << 10)
        XCTAssertEqual(Generation.reserveChunk(forLength: 64 << 20, pageSize: 4096), 2 << 20)
        XCTAssertEqual(Generation.reserveChunk(forLength: 1 << 40, pageSize: 4096), 16 << 20)
        XCTAssertEqual(Generation.reserveChunk(forLength: (64 << 20) + 4096 * 33, pageSize: 16384) % 16384, 0)
    }

    /// From the second durable commit on, commits land in the reserve: the file's length stays
    /// put while they fit; `stats` and `dataFileTail` report it; a close cuts it off.
    func testDurableCommitsWriteIntoTheReserveAndCloseCutsItOff() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        try db.write { try $0.put(b("k0"), b("v")) }
        XCTAssertEqual(try dataLength(path), try committedLength(db), "one commit: no reserve yet")
        try db.write { try $0.put(b("k1"), b("v")) }
        let length = try dataLength(path)
        XCTAssertGreaterThanOrEqual(length - (try committedLength(db)), 128 << 10, "the second commit made a reserve")
        for i in 2 ..< 8 { try db.write { try $0.put(b("k\(i)"), b("v")) } }
        XCTAssertEqual(try dataLength(path), length, "commits that fit the reserve do not grow the file")
        let tail = try db.dataFileTail()
        XCTAssertEqual(tail.unfinishedBytes, 0)
        XCTAssertNil(tail.firstUnfinishedPage)
        XCTAssertEqual(tail.reserveBytes, length - (try committedLength(db)))
        XCTAssertEqual(try db.stats().reserveBytes, tail.reserveBytes)
        XCTAssertEqual(try db.stats().fileBytes, length)
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean)
        let committed = try committedLength(db)
        try db.checkAndClose()
        XCTAssertEqual(try dataLength(path), committed, "a closed database ends with its last commit")
    }

    /// A transaction that throws after writing pages into the reserve leaves zeros there and
    /// the file's length as it was; the next commit goes on from the same page.
    func testAnAbandonedCommitLeavesTheReserveZeros() throws {
        struct Abort: Error {}
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        try db.write { try $0.put(b("a"), b("1")) }
        try db.write { try $0.put(b("b"), b("2")) }
        let length = try dataLength(path)
        let before = try committedLength(db)
        XCTAssertThrowsError(try db.write { txn in
            // Larger than the appender's buffer: written to the file at once.
            try txn.put(b("big"), [UInt8](repeating: 0xAB, count: 100 * db.pageSize))
            throw Abort()
        })
        XCTAssertEqual(try db.dataFileTail().unfinishedBytes, 0, "the abandoned pages are zeros again")
        XCTAssertEqual(try dataLength(path), length, "the file's length is the reserve's")
        try db.write { try $0.put(b("c"), b("3")) }
        XCTAssertEqual(try db.versions().last?.appendedBytes, try committedLength(db) - before)
        try db.checkAndClose()
    }

    /// A writer's open keeps zeros past the last commit as its reserve (what a crash leaves),
    /// and cuts off anything else; a writer that is not durable keeps none.
    func testAnOpenKeepsAZeroTailAndCutsAnythingElse() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        do {
            let db = try openDatabase(path: path)
            try db.write { try $0.put(b("a"), b("1")) }
            try db.checkAndClose()
        }
        let committed = try dataLength(path)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path + "/data"))
        try handle.seek(toOffset: committed)
        try handle.write(contentsOf: Data(count: 64 << 10))
        try handle.close()
        do {
            let db = try openDatabase(path: path)
            XCTAssertEqual(try db.stats().reserveBytes, 64 << 10, "the zeros are kept as the reserve")
            try db.write { try $0.put(b("b"), b("2")) }
            XCTAssertEqual(try dataLength(path), committed + (64 << 10), "the commit went into the kept reserve")
            try db.checkAndClose()
        }
        // Not zeros past the last commit: cut off at a writer's open (a torn commit looks so).
        let end = try dataLength(path)
        let garbage = try XCTUnwrap(FileHandle(forWritingAtPath: path + "/data"))
        try garbage.seek(toOffset: end)
        try garbage.write(contentsOf: Data(count: 8192) + Data([1, 2, 3]) + Data(count: 4093))
        try garbage.close()
        var readOnly = DatabaseOptions()
        readOnly.readOnly = true
        do {
            let reader = try openDatabase(path: path, options: readOnly)
            let tail = try reader.dataFileTail()
            XCTAssertEqual(tail.firstUnfinishedPage, end / 4096 + 2, "a reader sees where the bytes that are not zeros begin")
            XCTAssertEqual(tail.unfinishedBytes, 3 * 4096)
            try reader.close()
        }
        do {
            let db = try openDatabase(path: path)
            XCTAssertEqual(try dataLength(path), end, "a writer's open cuts off what is not zeros")
            try db.checkAndClose()
        }
        // A writer that does not sync keeps no reserve, and cuts one off.
        let zeros = try XCTUnwrap(FileHandle(forWritingAtPath: path + "/data"))
        try zeros.seek(toOffset: end)
        try zeros.write(contentsOf: Data(count: 8192))
        try zeros.close()
        var fast = DatabaseOptions()
        fast.durability = .none
        let db = try openDatabase(path: path, options: fast)
        XCTAssertEqual(try dataLength(path), end)
        for i in 0 ..< 5 { try db.write { try $0.put(b("n\(i)"), b("v")) } }
        XCTAssertEqual(try dataLength(path), try committedLength(db), "no reserve without durability")
        try db.checkAndClose()
    }

    /// `check` in the writer's process requires the reserve to be zeros.
    func testCheckFindsBytesInTheReserve() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        for i in 0 ..< 3 { try db.write { try $0.put(b("k\(i)"), b("v")) } }
        let end = try committedLength(db)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path + "/data"))
        try handle.seek(toOffset: end + 3 * 4096 + 100)
        try handle.write(contentsOf: Data([0x5A]))
        try handle.close()
        let report = try db.checkReport()
        XCTAssertEqual(report.problems.count, 1)
        XCTAssertEqual(report.problems.first?.page, end / 4096 + 3)
        XCTAssertTrue(report.problems.first?.message.contains("not zeros") ?? false, "\(report.problems)")
        XCTAssertThrowsError(try db.check())
        try db.close()
    }

    /// Backups ship the commits, not the reserve; a compaction's new generation starts without
    /// one and gets its own from the writer's next commits.
    func testBackupAndCompactionLeaveTheReserveBehind() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let db = try openDatabase(path: path)
        for i in 0 ..< 10 { try db.write { try $0.put(b("k\(i)"), b("\(i)")) } }
        XCTAssertGreaterThan(try db.stats().reserveBytes, 0)
        let report = try db.backup(to: directory.path("backup"))
        XCTAssertEqual(try dataLength(directory.path("backup")), report.fileBytes)
        XCTAssertEqual(report.fileBytes, try committedLength(db))
        try db.compact(keeping: RetentionPolicy(keepLast: 3))
        XCTAssertEqual(try db.stats().reserveBytes, 0, "a new generation starts without a reserve")
        try db.write { try $0.put(b("after"), b("1")) }
        try db.write { try $0.put(b("after"), b("2")) }
        XCTAssertGreaterThan(try db.stats().reserveBytes, 0)
        try db.checkAndClose()
        let backup = try openDatabase(path: directory.path("backup"))
        XCTAssertEqual(try backup.read { try $0.get(b("k9")) }, b("9"))
        try backup.checkAndClose()
    }
}
