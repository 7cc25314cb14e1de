import Foundation
import XCTest
@testable import CowDB
// Re-exported so every file of this test target sees the shared helpers.
@_exported import CowDBTestSupport

extension Database {
    /// Closes after asserting that `check()` finds every version clean (every test database
    /// is checked when it closes, as bbolt's tests do).
    func checkAndClose(allVersions: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try checkReport(allVersions: allVersions)
        XCTAssertTrue(report.isClean, "check found: \(report.problems.prefix(5))", file: file, line: line)
        try close()
    }
}
