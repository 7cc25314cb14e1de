import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
// Re-exported so every file of this test target sees the shared helpers.
@_exported import CowDBTestSupport
@_exported import CowDBTestHarness

extension Database {
    /// Closes after asserting that `check()` finds every version clean (every test database
    /// is checked when it closes, as bbolt's tests do).
    func checkAndClose(allVersions: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try checkReport(allVersions: allVersions)
        XCTAssertTrue(report.isClean, "check found: \(report.problems.prefix(5))", file: file, line: line)
        try close()
    }
}

extension Database {
    /// Every entry of every keyspace at `version` ("" is the default keyspace), keys and values
    /// alternating in key order: for comparing versions whole.
    func contentOfEveryKeyspace(at version: UInt64) throws -> [String: [[UInt8]]] {
        try read(at: version) { try $0.contentOfEveryKeyspace() }
    }
}

extension ReadTransaction {
    /// Every entry of every keyspace of this version (see `Database.contentOfEveryKeyspace`).
    func contentOfEveryKeyspace() throws -> [String: [[UInt8]]] {
        var all: [String: [[UInt8]]] = ["": try scan().flatMap { [$0.key, $0.value] }]
        for name in try keyspaces() { all[name] = try keyspace(name).scan().flatMap { [$0.key, $0.value] } }
        return all
    }
}
