import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Dates a caller may pass that do not fit a u64 nanosecond timestamp (found by the operation
/// fuzzer: `RetentionPolicy(keepSince: .distantFuture)` trapped converting to UInt64).
final class ExtremeDateTests: XCTestCase {
    func testDistantDatesClampInsteadOfTrapping() throws {
        XCTAssertEqual(nanosecondsSince1970(.distantPast), 0)
        XCTAssertEqual(nanosecondsSince1970(.distantFuture), .max)
        XCTAssertEqual(nanosecondsSince1970(Date(timeIntervalSince1970: .nan)), 0)
        XCTAssertEqual(nanosecondsSince1970(Date(timeIntervalSince1970: 1.5)), 1_500_000_000)

        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let database = try openDatabase(path: directory.path("db"), options: options)
        for i in 0 ..< 3 { try database.write { try $0.put(b("k"), b("v\(i)")) } }
        // As of the far future: the latest version; as of the far past: none.
        XCTAssertEqual(try database.read(asOf: .distantFuture) { try $0.get(b("k")) }, b("v2"))
        XCTAssertThrowsError(try database.read(asOf: .distantPast) { _ in }) { error in
            guard case .noVersionAsOf = error as? CowDBError else { return XCTFail("\(error)") }
        }
        // Keeping versions since the far future keeps only the latest; since the far past, all.
        _ = try database.compact(keeping: RetentionPolicy(keepSince: .distantPast, keepTags: false))
        XCTAssertEqual(try database.versions().map(\.version), [1, 2, 3])
        _ = try database.compact(keeping: RetentionPolicy(keepSince: .distantFuture, keepTags: false))
        XCTAssertEqual(try database.versions().map(\.version), [3])
        try database.checkAndClose()
    }
}
