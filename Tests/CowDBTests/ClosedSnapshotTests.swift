import Foundation
import XCTest
@testable import CowDB
import CowDBFormat

/// Misuse a caller can recover from throws: a closed snapshot throws `closed`, as a closed database does.
final class ClosedSnapshotTests: XCTestCase {
    func testAClosedSnapshotThrowsClosed() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { try $0.put(b("k"), b("v")) }
        let snapshot = try db.snapshot()
        XCTAssertEqual(try snapshot.get(b("k")), b("v"))
        snapshot.close()
        for attempt in [{ _ = try snapshot.get(b("k")) }, { _ = try snapshot.scan() }, { _ = try snapshot.read { $0.version } }] {
            XCTAssertThrowsError(try attempt()) { XCTAssertEqual($0 as? CowDBError, .closed) }
        }
        try db.checkAndClose()
        XCTAssertThrowsError(try db.read { $0.version }) { XCTAssertEqual($0 as? CowDBError, .closed) }
    }
}
