import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// `check` verifies every run of every commit region, not only the runs some version reaches:
/// bit rot in an overflow run that a later put of the same transaction orphaned is reported,
/// while every read still returns the intact data (no read reaches the damaged run).
final class RegionCheckTests: XCTestCase {
    func testDamageInARunNoVersionReachesIsReportedByCheckAndHarmlessToReads() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let orphaned = [UInt8](repeating: 0xAB, count: 9_000), kept = [UInt8](repeating: 0xCD, count: 9_000)
        let db = try openDatabase(path: path)
        try db.write { txn in
            try txn.put(b("small"), b("value"))
            try txn.put(b("large"), orphaned) // an overflow run written first…
            try txn.put(b("large"), kept)     // …and orphaned by the second put
        }
        try db.checkAndClose()

        // The orphaned run is the one holding 0xAB bytes; flip one of them.
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data")))
        let needle = [UInt8](repeating: 0xAB, count: 64)
        let offset = try XCTUnwrap(firstOffset(of: needle, in: data), "the orphaned value is in the file")
        XCTAssertNil(firstOffset(of: needle, in: Array(data[(offset + 9_000)...])), "only one run holds the orphaned value")
        data[offset + 100] ^= 0x10
        let damaged = directory.path("damaged")
        try FileManager.default.createDirectory(atPath: damaged, withIntermediateDirectories: true)
        try Data(data).write(to: URL(fileURLWithPath: damaged + "/data"))
        try FileManager.default.copyItem(atPath: path + "/index", toPath: damaged + "/index")

        var options = DatabaseOptions()
        options.readOnly = true
        let copy = try Database(path: damaged, options: options) // unchecked-open: damaged on purpose; the test checks it
        defer { try? copy.close() }
        XCTAssertEqual(try copy.read { try $0.get(b("large")) }, kept)
        XCTAssertEqual(try copy.read { try $0.get(b("small")) }, b("value"))
        let report = try copy.checkReport(allVersions: true)
        XCTAssertFalse(report.isClean, "damage in an unreachable run must be reported")
        XCTAssertTrue(report.problems.contains { $0.message.contains("fails its checksum") }, "\(report.problems)")
        XCTAssertThrowsError(try copy.check()) { error in
            guard case CowDBError.corrupt = error else { return XCTFail("\(error)") }
        }
    }

    /// The byte offset where `needle` first occurs in `haystack`.
    private func firstOffset(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0 ... haystack.count - needle.count where haystack[start] == needle[0] {
            if haystack[start ..< start + needle.count].elementsEqual(needle) { return start }
        }
        return nil
    }
}
