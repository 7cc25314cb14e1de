import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// The operation fuzzer (`OpFuzzRunner`) as a seeded test: random programs of puts, deletes,
/// inserts, bulk loads, keyspaces, scans both ways, cursors, reads at versions, snapshots,
/// rollbacks, tags, compactions, diffs and reopens, checked against an in-memory model on a
/// disk whose writes and syncs fail after a countdown and that crashes at a random step; after
/// a crash every disk image (page cache, durable bytes, power cuts) must hold every
/// acknowledged commit. Each case first runs its program without faults to count its writes,
/// syncs and steps, then again with a write fault, a sync fault and a crash point drawn from
/// those counts. Also replays the committed corpus (`Tools/cowdb-fuzz/seeds-ops`) and every
/// kept finding (`Fixtures/opfuzz`).
///
/// 8 cases by default (a few seconds); `COWDB_OPFUZZ_CASES=2000` runs longer, `COWDB_SEED` replays a
/// seed and `COWDB_OPFUZZ_CASE=n` runs its case n alone. A failing case's input is written
/// to the temporary directory (the message names the file) for `Fixtures/opfuzz`.
/// `COWDB_OPFUZZ_WRITE_SEEDS=<directory>` also writes every case's input there (how the
/// committed corpus was made: `COWDB_SEED=1 COWDB_OPFUZZ_CASES=12`).
final class OpFuzzTests: XCTestCase {
    /// The repository's root, found from this file's path.
    private var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testSeededProgramsMatchTheModelThroughFaultsAndCrashes() throws {
        let seed = testSeed("opfuzz")
        let environment = ProcessInfo.processInfo.environment
        let cases = environment["COWDB_OPFUZZ_CASES"].flatMap(Int.init) ?? 8
        let only = environment["COWDB_OPFUZZ_CASE"].flatMap(Int.init)
        var crashes = 0, faults = 0
        for index in only.map({ [$0] }) ?? Array(0 ..< cases) {
            let input = Self.makeInput(seed: seed, index: index)
            let problems = input.withUnsafeBytes { OpFuzzRunner.run($0) }
            if let corpus = environment["COWDB_OPFUZZ_WRITE_SEEDS"] {
                _ = FileManager.default.createFile(atPath: "\(corpus)/seeded-\(seed)-\(index)", contents: Data(input))
            }
            if input[6] != 0 || input[7] != 0 { crashes += 1 }
            if input[2] != 0 || input[4] != 0 { faults += 1 }
            guard problems.isEmpty else {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("opfuzz-\(seed)-\(index)").path
                _ = FileManager.default.createFile(atPath: file, contents: Data(input))
                return XCTFail("case \(index) (COWDB_SEED=\(seed) COWDB_OPFUZZ_CASE=\(index); input in \(file)):\n"
                    + problems.prefix(5).joined(separator: "\n"))
            }
        }
        print("opfuzz: \(only == nil ? cases : 1) cases, \(crashes) with a crash, \(faults) with a failing write or sync")
    }

    /// Case `index` of `seed`: random operations, then a fault plan drawn from a fault-free
    /// run's counts (a third of the cases crash, a third fail a write or sync, a third both).
    static func makeInput(seed: UInt64, index: Int) -> [UInt8] {
        var random = SeededGenerator(seed: seed &+ UInt64(index) &* 0x9E37_79B9)
        var input = random.bytes(Int.random(in: 100 ... 900, using: &random))
        for i in 1 ..< 8 { input[i] = 0 }
        input[0] = UInt8.random(in: 0 ... 255, using: &random) % 4 == 0 ? input[0] : 0 // mostly 4 KiB pages
        input[1] = UInt8.random(in: 0 ... 7, using: &random)
        let runner = OpFuzzRunner(program: input.withUnsafeBytes { OpFuzzProgram($0) }, imageSeed: 0)
        _ = runner.run()
        let counts = runner.backend.counts
        let plan = Int.random(in: 0 ..< 3, using: &random)
        if plan != 1, counts.steps > 0 {
            let step = UInt16(clamping: Int.random(in: 1 ... counts.steps, using: &random))
            (input[6], input[7]) = (UInt8(step & 0xFF), UInt8(step >> 8))
        }
        if plan != 0 {
            if Bool.random(using: &random), counts.writes > 0 {
                let write = UInt16(clamping: Int.random(in: 1 ... counts.writes, using: &random))
                (input[2], input[3]) = (UInt8(write & 0xFF), UInt8(write >> 8))
            } else if counts.syncs > 0 {
                input[4] = UInt8(clamping: Int.random(in: 1 ... counts.syncs, using: &random))
                input[5] = UInt8.random(in: 0 ... 2, using: &random)
            }
        }
        return input
    }

    func testCorpusAndFindingsReplay() throws {
        var files: [URL] = []
        for folder in ["Tools/cowdb-fuzz/seeds-ops", "Tests/CowDBTests/Fixtures/opfuzz"] {
            let directory = repositoryRoot.appendingPathComponent(folder)
            files += try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension != "md" }
        }
        XCTAssertGreaterThanOrEqual(files.count, 8, "the operation corpus is missing")
        for file in files.sorted(by: { $0.path < $1.path }) {
            let bytes = try [UInt8](Data(contentsOf: file))
            let problems = bytes.withUnsafeBytes { OpFuzzRunner.run($0) }
            XCTAssertTrue(problems.isEmpty, "\(file.lastPathComponent):\n" + problems.prefix(5).joined(separator: "\n"))
        }
    }
}
