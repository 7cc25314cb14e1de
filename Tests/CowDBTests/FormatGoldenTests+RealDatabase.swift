// A real database read back by FORMAT.md's rules alone, and the golden tests' helpers.

import CCowDBSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
import Glibc

extension FormatGoldenTests {
    // MARK: A real database, read by FORMAT.md's rules

    /// Writes two commits through the public API, then walks `data`, `index` and `lock` with
    /// nothing but the rules in FORMAT.md: header, every run's checksum, the region checksums,
    /// the commit chain, the index records and the published version.
    func testDatabaseFilesFollowTheFormat() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/db"
        do {
            let db = try Database(path: path) // unchecked-open: the test removes its own directory; checked here, at close
            try db.write { txn in
                try txn.put(Array("apple".utf8), Array("red".utf8))
                try txn.put(Array("big".utf8), Self.overflowValue)
                try txn.createKeyspace("fruit").put(Array("pear".utf8), Array("green".utf8))
            }
            try db.write { txn in try txn.put(Array("banana".utf8), Array("yellow".utf8)) }
            try db.checkAndClose()
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/data.tmp"))
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data")))
        let index = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/index")))
        let lock = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/lock")))
        let pageSize = 4096

        try data.withUnsafeBytes { file in
            // Page 0.
            XCTAssertEqual(Array(file[0 ..< 8]), FileHeader.magic)
            XCTAssertEqual(file.u32(8), 1)
            XCTAssertEqual(file.u32(12), UInt32(pageSize))
            XCTAssertEqual(file.u64(32), 1)
            XCTAssertEqual(file.u32(60), referenceCRC(Array(file[0 ..< 60])))
            XCTAssertTrue(file[64 ..< pageSize].allSatisfy { $0 == 0 })
            XCTAssertEqual(file.count % pageSize, 0)

            // The runs, region by region.
            let commits = try commitRecordsOfEveryRegion(file, pageSize: pageSize)
            let pages = UInt64(file.count / pageSize)
            XCTAssertEqual(commits.count, 2)
            XCTAssertEqual(commits.last?.page, pages - 1, "the file ends with a commit record")
            XCTAssertEqual(commits.map(\.record.defaultCount), [2, 3])
            XCTAssertEqual(commits.map(\.record.totalCount), [3, 4])
            XCTAssertTrue(commits.allSatisfy { $0.record.catalogRoot != 0 && $0.record.defaultRoot != 0 })

            // The index: one synced record per commit, agreeing with the commit records.
            try checkIndex(index, against: commits)

            // The lock file announces the latest commit.
            lock.withUnsafeBytes { shared in
                XCTAssertEqual(Array(shared[0 ..< 8]), Array("CowDBLck".utf8))
                XCTAssertEqual(shared.u64(8) % 2, 0)
                XCTAssertEqual(shared.u64(16), 2)
                XCTAssertEqual(shared.u64(24), commits.last?.page)
                XCTAssertEqual(shared.u64(32), 1)
                XCTAssertEqual(shared.u64(40), 2)
            }
        }
    }

    /// An open durable writer's data file, read while it is open: the regions by FORMAT.md's
    /// rules, then the reserve, zero pages to the end of the file, as long as its rule says.
    func testAnOpenDurableWriterKeepsZeroPagesPastTheLastCommit() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/db"
        let db = try Database(path: path) // unchecked-open: the test removes its own directory; checked here, before close
        for i in 0 ..< 3 { try db.write { try $0.put(Array("k\(i)".utf8), Array("v".utf8)) } }
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data")))
        let pageSize = 4096
        try data.withUnsafeBytes { file in
            let commits = try commitRecordsOfEveryRegion(file, pageSize: pageSize)
            XCTAssertEqual(commits.map(\.record.version), [1, 2, 3])
            let reserveStart = (Int(commits.last?.page ?? 0) + 1) * pageSize
            XCTAssertTrue(file[reserveStart...].allSatisfy { $0 == 0 }, "only zero pages follow the last commit record")
            // Made before the second commit: 256 KiB (the floor) past the first commit's end.
            let firstEnd = (Int(commits[0].page) + 1) * pageSize
            XCTAssertEqual(file.count, firstEnd + (256 << 10))
            XCTAssertEqual(try db.stats().reserveBytes, UInt64(file.count - reserveStart))
        }
        try db.checkAndClose()
        let closed = try FileManager.default.attributesOfItem(atPath: path + "/data")[.size] as? NSNumber
        XCTAssertEqual(closed?.intValue, try data.withUnsafeBytes { try (Int(commitRecordsOfEveryRegion($0, pageSize: pageSize).last?.page ?? 0) + 1) * pageSize },
                       "a clean close cuts the reserve off")
    }

    /// Walks the data file's runs after page 0 by FORMAT.md's rules (kinds, flags, run lengths,
    /// checksums; each region closed by a commit record linked to the one before) and returns
    /// the commit records with their pages.
    private func commitRecordsOfEveryRegion(_ file: UnsafeRawBufferPointer, pageSize: Int) throws -> [(page: UInt64, record: CommitRecord)] {
        var commits: [(page: UInt64, record: CommitRecord)] = []
        var regionStart: UInt64 = 1
        var runChecksums: [UInt8] = []
        var page: UInt64 = 1
        let pages = UInt64(file.count / pageSize)
        while page < pages {
            let at = Int(page) * pageSize
            let kind = file[at + 4]
            // A zero page right after a commit record: the reserve begins (FORMAT.md).
            if kind == 0, page == regionStart, file[at ..< at + pageSize].allSatisfy({ $0 == 0 }) { break }
            let runLength = UInt64(file.u32(at + 8))
            XCTAssertTrue((1 ... 4).contains(kind), "page \(page) kind \(kind)")
            XCTAssertEqual(file[at + 5], 0, "page \(page) flags")
            let expectedRun = kind == 3 ? (16 + UInt64(file.u32(at + 12)) + UInt64(pageSize) - 1) / UInt64(pageSize) : 1
            XCTAssertEqual(runLength, expectedRun, "page \(page) run length")
            let run = UnsafeRawBufferPointer(rebasing: file[at ..< at + Int(runLength) * pageSize])
            XCTAssertEqual(run.u32(0), referenceChecksum(run, pageNumber: page), "page \(page) checksum")
            if kind == 4 {
                let record = try CommitRecord.decode(run, pageNumber: page)
                XCTAssertEqual(record.version, UInt64(commits.count + 1))
                XCTAssertEqual(record.previousCommit, commits.last?.page ?? 0)
                XCTAssertEqual(record.firstPage, regionStart)
                XCTAssertEqual(record.regionChecksum, referenceCRC(runChecksums))
                XCTAssertGreaterThan(record.timestamp, commits.last?.record.timestamp ?? 0)
                XCTAssertTrue(run[84 ..< pageSize].allSatisfy { $0 == 0 })
                commits.append((page, record))
                regionStart = page + 1
                runChecksums = []
            } else {
                runChecksums += Array(run[0 ..< 4])
            }
            page += runLength
        }
        return commits
    }

    /// Checks each index record against its commit record: field by field, synced, checksummed.
    private func checkIndex(_ index: [UInt8], against commits: [(page: UInt64, record: CommitRecord)]) throws {
        XCTAssertEqual(index.count, commits.count * 64)
        for (i, commit) in commits.enumerated() {
            let bytes = Array(index[64 * i ..< 64 * i + 64])
            try bytes.withUnsafeBytes { record in
                XCTAssertEqual(record.u32(60), referenceCRC(Array(bytes[0 ..< 60])))
                XCTAssertEqual(record.u64(0), commit.record.version)
                XCTAssertEqual(record.u64(8), commit.record.timestamp)
                XCTAssertEqual(record.u64(16), commit.page)
                XCTAssertEqual(record.u64(24), commit.record.catalogRoot)
                XCTAssertEqual(record.u64(32), commit.record.defaultRoot)
                XCTAssertEqual(record.u64(40), commit.record.totalCount)
                XCTAssertEqual(UInt64(record.u32(48)), commit.page - commit.record.firstPage + 1)
                XCTAssertEqual(record.u32(52), 1, "synced")
                XCTAssertEqual(record.u32(56), 0)
                _ = try XCTUnwrap(IndexRecord.decode(record))
            }
        }
    }

    // MARK: Helpers

    static func encodedHeader() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeMutableBytes { header.encode(into: $0) }
        return bytes
    }

    /// A fresh directory under the system's temporary directory.
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cowdb-format-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
