import Foundation
import XCTest

/// `cowdb dump`/`cowdb load` against the real `mdb_load`/`mdb_dump` (lmdb-utils): random data
/// loaded into LMDB, dumped by LMDB, loaded by cowdb and dumped again must give LMDB's records
/// byte for byte, and cowdb's dumps must load back into LMDB.
final class LMDBInteropTests: XCTestCase {
    // MARK: LMDB → cowdb → LMDB

    /// The default keyspace: binary keys, empty and large values.
    func testDefaultDatabaseRoundTrip() throws {
        var rng = SeededGenerator(seed: testSeed("testDefaultDatabaseRoundTrip"))
        let dir = TemporaryDirectory()
        let records = randomRecords(1200, using: &rng)
        let lmdbDump = try lmdbDumpOf([DumpBlock(name: nil, records: records)], in: dir, arguments: [])

        assertSuccess(try ToolRunner.cowdb(["load", dir.path("db"), "-f", lmdbDump]), "cowdb load")
        let dumped = try ToolRunner.cowdb(["dump", dir.path("db")])
        assertSuccess(dumped, "cowdb dump")
        XCTAssertEqual(DumpText.withoutEnvironment(dumped.text), DumpText.withoutEnvironment(try String(contentsOfFile: lmdbDump, encoding: .utf8)))
        XCTAssertEqual(DumpText.records(ofBytevalue: dumped.text).count, records.count)

        // And back: cowdb's dump loads into a fresh LMDB environment (its mapsize= is big enough).
        try assertLoadsIntoLMDB(dumped.text, dumpArguments: [], in: dir)
    }

    /// Several named databases (one empty): `-a` and `-s`, both directions.
    func testNamedDatabasesRoundTrip() throws {
        var rng = SeededGenerator(seed: testSeed("testNamedDatabasesRoundTrip"))
        let dir = TemporaryDirectory()
        let blocks = [
            DumpBlock(name: "alpha", records: randomRecords(300, using: &rng)),
            DumpBlock(name: "beta gamma", records: randomRecords(250, using: &rng)),
            DumpBlock(name: "empty", records: []),
            DumpBlock(name: "zeta", records: randomRecords(200, using: &rng)),
        ]
        let lmdbAll = try lmdbDumpOf(blocks, in: dir, arguments: ["-a"])
        let expectedAll = DumpText.withoutEnvironment(try String(contentsOfFile: lmdbAll, encoding: .utf8))
        XCTAssertEqual(expectedAll.components(separatedBy: "HEADER=END").count - 1, 4)

        assertSuccess(try ToolRunner.cowdb(["load", dir.path("db"), "-f", lmdbAll]), "cowdb load")
        let all = try ToolRunner.cowdb(["dump", dir.path("db"), "-a"])
        assertSuccess(all, "cowdb dump -a")
        XCTAssertEqual(DumpText.withoutEnvironment(all.text), expectedAll)
        try assertLoadsIntoLMDB(all.text, dumpArguments: ["-a"], in: dir)

        // -s: one named database, loaded under its name, dumped with -s.
        let beta = try ToolRunner.lmdb("mdb_dump", ["-s", "beta gamma", dir.path("lmdb")])
        try beta.output.write(to: URL(fileURLWithPath: dir.path("beta.dump")))
        assertSuccess(try ToolRunner.cowdb(["load", dir.path("db-s"), "-f", dir.path("beta.dump"), "-s", "beta gamma"]), "cowdb load -s")
        let one = try ToolRunner.cowdb(["dump", dir.path("db-s"), "-s", "beta gamma"])
        assertSuccess(one, "cowdb dump -s")
        XCTAssertEqual(DumpText.withoutEnvironment(one.text), DumpText.withoutEnvironment(beta.text))
        try assertLoadsIntoLMDB(one.text, dumpArguments: ["-s", "beta gamma"], in: dir)
        // -a of that database has exactly that block.
        XCTAssertEqual(DumpText.withoutEnvironment(try ToolRunner.cowdb(["dump", dir.path("db-s"), "-a"]).text), DumpText.withoutEnvironment(beta.text))
    }

    /// Print format: for data without backslash bytes, Debian's 0.9.24 `mdb_dump -p` and
    /// `cowdb dump -p` agree byte for byte, and `cowdb load` reads `mdb_dump -p` exactly.
    func testPrintFormatMatchesMdbDumpWithoutBackslashes() throws {
        var rng = SeededGenerator(seed: testSeed("testPrintFormatMatchesMdbDumpWithoutBackslashes"))
        let dir = TemporaryDirectory()
        let records = randomRecords(500, using: &rng, avoidingByte: 0x5C)
        let byteDump = try lmdbDumpOf([DumpBlock(name: "printable", records: records)], in: dir, arguments: ["-s", "printable"])
        let printDump = try ToolRunner.lmdb("mdb_dump", ["-p", "-s", "printable", dir.path("lmdb")])

        assertSuccess(try ToolRunner.cowdb(["load", dir.path("db")], input: printDump.output), "cowdb load of print format")
        let printed = try ToolRunner.cowdb(["dump", dir.path("db"), "-s", "printable", "-p"])
        XCTAssertEqual(DumpText.withoutEnvironment(printed.text), DumpText.withoutEnvironment(printDump.text))
        let bytes = try ToolRunner.cowdb(["dump", dir.path("db"), "-s", "printable"])
        XCTAssertEqual(DumpText.withoutEnvironment(bytes.text), DumpText.withoutEnvironment(try String(contentsOfFile: byteDump, encoding: .utf8)))
        // mdb_load reads cowdb's print format back into the same data.
        try assertLoadsIntoLMDB(printed.text, dumpArguments: ["-s", "printable"], in: dir, compareWith: bytes.text)
    }

    /// The header's mapsize= lets mdb_load take more than LMDB's 1 MiB default, and is at
    /// least four times the bytes dumped (hex text included).
    func testMapSizeCoversTheDump() throws {
        var rng = SeededGenerator(seed: testSeed("testMapSizeCoversTheDump"))
        let dir = TemporaryDirectory()
        let records = (0 ..< 24).map { i in (key: b(String(format: "k%03d", i)), value: rng.bytes(60_000)) }
        let input = DumpText.make([DumpBlock(name: nil, records: records)])
        assertSuccess(try ToolRunner.cowdb(["load", dir.path("db")], input: Data(input.utf8)), "cowdb load")
        let dumped = try ToolRunner.cowdb(["dump", dir.path("db")])
        let mapSize = dumped.text.split(separator: "\n").first { $0.hasPrefix("mapsize=") }.flatMap { Int($0.dropFirst(8)) }
        XCTAssertNotNil(mapSize)
        XCTAssertGreaterThanOrEqual(mapSize ?? 0, 4 * dumped.output.count)
        try assertLoadsIntoLMDB(dumped.text, dumpArguments: [], in: dir)
    }

    // MARK: Helpers

    /// Loads `blocks` into a fresh LMDB environment `lmdb` with mdb_load, then returns the path
    /// of `mdb_dump ARGUMENTS`' output.
    private func lmdbDumpOf(_ blocks: [DumpBlock], in dir: TemporaryDirectory, arguments: [String]) throws -> String {
        try FileManager.default.createDirectory(atPath: dir.path("lmdb"), withIntermediateDirectories: true)
        try DumpText.make(blocks, mapSize: 256 << 20).write(toFile: dir.path("input.txt"), atomically: false, encoding: .utf8)
        try ToolRunner.lmdb("mdb_load", ["-f", dir.path("input.txt"), dir.path("lmdb")])
        let dumped = try ToolRunner.lmdb("mdb_dump", arguments + [dir.path("lmdb")])
        let path = dir.path("lmdb.dump")
        try dumped.output.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Loads cowdb's `dump` into a fresh LMDB environment with mdb_load (no -m: the dump's own
    /// mapsize= must do), dumps it with `mdb_dump DUMPARGUMENTS` and compares with `compareWith`
    /// (default: the dump itself), ignoring the environment lines.
    private func assertLoadsIntoLMDB(_ dump: String, dumpArguments: [String], in dir: TemporaryDirectory, compareWith: String? = nil,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let environment = dir.path("back-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: environment, withIntermediateDirectories: true)
        let load = try ToolRunner.run(try ToolRunner.lmdbTool("mdb_load"), [environment], input: Data(dump.utf8))
        XCTAssertEqual(load.status, 0, "mdb_load of cowdb's dump: \(load.errors)", file: file, line: line)
        let back = try ToolRunner.lmdb("mdb_dump", dumpArguments + [environment])
        XCTAssertEqual(DumpText.withoutEnvironment(back.text), DumpText.withoutEnvironment(compareWith ?? dump), file: file, line: line)
    }
}
