import Foundation
import XCTest
@testable import CowDB
import CowDBFormat

/// A scan that meets a damaged page: a `for` loop ends early and the transaction rethrows the
/// error when its closure returns; `nextOrThrow()` throws it at once, and only there.
final class ThrowingScanTests: XCTestCase {
    func testNextOrThrowStopsALoopWithTheErrorWhereAForLoopEndsQuietly() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        do {
            let db = try Database(path: path) // unchecked-open: the test damages it below, on purpose
            try db.write { txn in for i in 0 ..< 3_000 { try txn.put(b(String(format: "key%05d", i)), b("value \(i)")) } }
            try db.checkAndClose()
        }
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path + "/data")))
        let leaves = FileDamage(data: data, pageSize: 4096).pagesByKind[2] ?? []
        XCTAssertGreaterThan(leaves.count, 10)
        let page = leaves[leaves.count / 2]
        data[page * 4096 + 100] ^= 0x5A
        try Data(data).write(to: URL(fileURLWithPath: path + "/data"))
        let db = try Database(path: path) // unchecked-open: damaged on purpose
        defer { try? db.close() }
        var looped = 0
        XCTAssertThrowsError(try db.read { txn in for _ in try txn.scan() { looped += 1 } }) { error in
            guard case CowDBError.corrupt = error else { return XCTFail("\(error)") }
        }
        XCTAssertGreaterThan(looped, 0)
        XCTAssertLessThan(looped, 3_000, "the for loop ended early")
        var walked = 0
        var thrown: (any Error)?
        try db.read { txn in
            var entries = try txn.scan().makeIterator()
            do {
                while try entries.nextOrThrow() != nil { walked += 1 }
            } catch {
                thrown = error
            }
            XCTAssertNil(try entries.nextOrThrow(), "done after the error")
        }
        XCTAssertEqual(walked, looped, "both walks stop at the same page")
        guard case CowDBError.corrupt(let damaged?, _, _)? = thrown as? CowDBError else { return XCTFail("\(String(describing: thrown))") }
        XCTAssertEqual(Int(damaged), page)
    }
}

