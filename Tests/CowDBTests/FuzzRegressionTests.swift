import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Replays the fuzzer's seed corpus and every kept finding through the same code the fuzz
/// target runs (`FuzzCase`), and checks that the fuzzer's checksum resealing mirrors the engine's.
final class FuzzRegressionTests: XCTestCase {
    /// The repository's root, found from this file's path.
    private var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The input files of a corpus directory (not its README).
    private func inputs(in relativePath: String) throws -> [URL] {
        let directory = repositoryRoot.appendingPathComponent(relativePath)
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension != "md" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    func testSeedCorpusAndFindingsReplayWithoutCrashing() throws {
        let directory = TemporaryDirectory()
        let files = try inputs(in: "Tools/cowdb-fuzz/seeds") + inputs(in: "Tests/CowDBTests/Fixtures/fuzz")
            + inputs(in: "Tests/CowDBTests/Fixtures/fuzz-corpus")
        XCTAssertGreaterThanOrEqual(files.count, 10, "the seed corpus is missing")
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            bytes.withUnsafeBytes { FuzzCase.run($0, in: directory.path("case")) }
        }
    }

    func testCommittedSeedsAreRealDatabasesThatOpenAndCheckClean() throws {
        let directory = TemporaryDirectory()
        var pageSizes: Set<Int> = [], deepest = 0, tagged = false, compacted = false, hostileLock = false, packed = false
        for file in try inputs(in: "Tools/cowdb-fuzz/seeds") {
            let bytes = try [UInt8](Data(contentsOf: file))
            let files = bytes.withUnsafeBytes { FuzzCase.unpackFiles($0) }
            let path = directory.path(file.lastPathComponent)
            FuzzCase.write(files, to: path)
            var options = DatabaseOptions()
            options.readOnly = files.flags.contains(.readOnly)
            if file.lastPathComponent == "lock-hostile" {
                hostileLock = files.lock == FuzzCase.hostileLockPage()
                // The lock page announces a generation whose files are not there: a read-only
                // reader treats it as one a later compaction already removed, and goes on
                // reading the generation `CURRENT` names (the page is only a hint).
                let database = try Database(path: path, options: options) // unchecked-open: the hostile lock page names missing files
                XCTAssertTrue(try database.checkReport(allVersions: true).isClean)
                XCTAssertGreaterThan(database.latestVersion, 0)
                try database.close()
                continue
            }
            let database = try openDatabase(path: path, options: options)
            XCTAssertTrue(try database.checkReport(allVersions: true).isClean, file.lastPathComponent)
            pageSizes.insert(database.pageSize)
            deepest = max(deepest, try database.stats().keyspaces.map(\.depth).max() ?? 0)
            tagged = try tagged || !database.tags().isEmpty
            compacted = compacted || FuzzCase.generation(named: files.current) != nil
            packed = try packed || database.read(at: try database.versions().first?.version ?? 0) { $0.source.packed != nil }
            try database.close()
        }
        // What the corpus must reach: every page size, a deep tree, tags, a later generation.
        XCTAssertEqual(pageSizes, [4096, 8192, 16384, 32768, 65536])
        XCTAssertGreaterThanOrEqual(deepest, 3)
        XCTAssertTrue(tagged && compacted && hostileLock && packed,
                      "tags \(tagged), CURRENT \(compacted), hostile lock page \(hostileLock), packed history \(packed)")
    }

    func testResealingAPristineDatabaseChangesNoByte() throws {
        let directory = TemporaryDirectory()
        let seeds = try FuzzCase.makeSeeds(scratch: directory.path("seeds"))
        XCTAssertGreaterThanOrEqual(seeds.count, 10)
        for seed in seeds {
            let (_, index, data) = seed.bytes.withUnsafeBytes { FuzzCase.unpack($0) }
            var raw = seed.bytes
            raw[0] &= ~FuzzCase.Flags.resealData.rawValue
            let pristine = raw.withUnsafeBytes { FuzzCase.unpackFiles($0) }
            var resealedFiles = pristine
            FuzzCase.resealTagsAndCurrent(&resealedFiles)
            XCTAssertEqual(resealedFiles.tags, pristine.tags, "\(seed.name): tags resealing differs")
            XCTAssertEqual(resealedFiles.current, pristine.current, "\(seed.name): CURRENT resealing differs")
            var resealed = data
            FuzzCase.resealData(&resealed, relink: true)
            XCTAssertEqual(resealed, data, "\(seed.name): resealing differs from the engine's checksums")
            if var resealedIndex = index {
                let original = resealedIndex
                FuzzCase.resealIndex(&resealedIndex)
                XCTAssertEqual(resealedIndex, original, "\(seed.name): index resealing differs")
            }
        }
    }

    func testResealedDamageIsStillCaughtByStructureChecks() throws {
        // A crafted file carries valid checksums: give the latest version's root leaf an absurd
        // entry count, reseal, and every read path must refuse with a typed error.
        let directory = TemporaryDirectory()
        let seed = try XCTUnwrap(FuzzCase.makeSeeds(scratch: directory.path("seeds")).first { $0.name == "small-resealed" })
        var (_, _, data) = seed.bytes.withUnsafeBytes { FuzzCase.unpack($0) }
        let pageSize = 4096
        let lastCommit = data.count / pageSize - 1
        XCTAssertEqual(data[lastCommit * pageSize + PageHeader.kindOffset], PageKind.commit.rawValue)
        let root = data.withUnsafeBytes { Int($0.u64(lastCommit * pageSize + 56)) }
        XCTAssertEqual(data[root * pageSize + PageHeader.kindOffset], PageKind.leaf.rawValue)
        data.withUnsafeMutableBytes { $0.setU16(0xFFFF, root * pageSize + PageHeader.countOffset) }
        FuzzCase.resealData(&data, relink: false)
        let path = directory.path("crafted")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: path + "/data", contents: Data(data)))
        let database = try Database(path: path, options: DatabaseOptions()) // unchecked-open: a crafted damaged file
        defer { try? database.close() }
        XCTAssertEqual(database.latestVersion, 3)
        XCTAssertThrowsError(try database.read { try $0.get(Array("key1".utf8)) }) { error in
            XCTAssertTrue(error is CowDBError, "\(error)")
        }
        XCTAssertThrowsError(try database.read { transaction in try transaction.scan().map(\.key) }) { error in
            XCTAssertTrue(error is CowDBError, "\(error)")
        }
        let report = try database.checkReport()
        XCTAssertFalse(report.isClean)
        XCTAssertTrue(report.problems.contains { "\($0)".contains("\(root)") }, "\(report.problems)")
        // Older versions do not share that page and still read whole.
        XCTAssertEqual(try database.read(at: 1) { try $0.get(Array("key1".utf8)) }, Array("value 1 round 0".utf8))
    }
}
