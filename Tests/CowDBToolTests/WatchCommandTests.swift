import CowDB
import CowDBTestHarness
import Foundation
import XCTest

/// `cowdb watch`: a live process printing each commit of this process's writer, as text and as
/// JSON objects parsed back; ended by SIGINT.
final class WatchCommandTests: XCTestCase {
    /// Starts `cowdb watch` with `arguments`; its standard output is read line by line.
    private func watch(_ arguments: [String]) throws -> (Process, FileHandle) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ToolRunner.cowdbPath)
        process.arguments = ["watch"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, pipe.fileHandleForReading)
    }

    /// One line of `handle` (without its newline).
    private func line(_ handle: FileHandle) -> String {
        var bytes: [UInt8] = []
        while let byte = handle.readData(ofLength: 1).first, byte != 10 { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testWatchPrintsEachCommitAsItLands() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        let db = try openDatabase(path: path)
        try db.write { try $0.put("a", "1") }
        try db.write { try $0.put("b", "2") }
        let (text, textOut) = try watch([path, "--after", "1"])
        let (json, jsonOut) = try watch([path, "-s", "users", "--json"])
        // Version 2 is already there; give the JSON watcher (which starts at the latest) time to open.
        XCTAssertTrue(line(textOut).hasPrefix("# version 2 "))
        XCTAssertEqual(line(textOut), "+ b\t2")
        Thread.sleep(forTimeInterval: 0.5)
        try db.write { txn in
            try txn.put("a", "11")
            try txn.keyspaceCreatingIfMissing("users").put("ann", "admin")
        }
        try db.write { _ = try $0.delete("b") }
        XCTAssertTrue(line(textOut).hasPrefix("# version 3 "))
        XCTAssertEqual(line(textOut), "~ a\t1\t11")
        XCTAssertTrue(line(textOut).hasPrefix("# version 4 "))
        XCTAssertEqual(line(textOut), "- b\t2")
        // JSON: only changes print (version 4 changed nothing in "users").
        let object = try JSONSerialization.jsonObject(with: Data(line(jsonOut).utf8)) as? [String: Any]
        XCTAssertEqual(object?["version"] as? Int, 3)
        XCTAssertEqual(object?["op"] as? String, "added")
        XCTAssertEqual(object?["keyspace"] as? String, "users")
        XCTAssertEqual(object?["key"] as? String, "616e6e")
        XCTAssertEqual(object?["new"] as? String, "61646d696e")
        for process in [text, json] {
            process.interrupt()
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        }
        try db.close()
    }

    func testWatchRejectsAMissingDatabase() throws {
        let dir = TemporaryDirectory()
        assertFailure(try ToolRunner.cowdb(["watch", dir.path("none")]), containing: ["no such database"])
    }
}
