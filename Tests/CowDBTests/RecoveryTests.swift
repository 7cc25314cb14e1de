import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Reopening after damage: a truncated data file or index, a deleted index, flipped bytes in
/// the unsynced tail. Each reopen must yield exactly the newest commit whose bytes are all
/// intact, with every earlier version still readable.
final class RecoveryTests: XCTestCase {
    typealias Model = [[UInt8]: [UInt8]]

    /// Builds a database of `commits` commits of random puts and deletes (some large values);
    /// returns the model after each version.
    private func build(_ path: String, commits: Int, durability: DatabaseOptions.Durability, random: inout SeededGenerator,
                       startingFrom start: Model = [:], close: Bool = true) throws -> (Database?, [Model]) {
        var options = DatabaseOptions()
        options.durability = durability
        let db = try openDatabase(path: path, options: options)
        let startVersion = db.latestVersion
        var model = start
        var models: [Model] = []
        for _ in 0 ..< commits {
            try db.write { txn in
                for _ in 0 ..< Int.random(in: 1 ... 80, using: &random) {
                    let key = b("key\(Int.random(in: 0 ..< 400, using: &random))")
                    if Int.random(in: 0 ..< 5, using: &random) == 0 {
                        try txn.delete(key)
                        model[key] = nil
                    } else {
                        let big = Int.random(in: 0 ..< 40, using: &random) == 0
                        let value = random.bytes(big ? Int.random(in: 5_000 ... 30_000, using: &random) : Int.random(in: 0 ... 90, using: &random))
                        try txn.put(key, value)
                        model[key] = value
                    }
                }
            }
            // A commit whose operations changed nothing (deletes of absent keys) makes no version.
            if db.latestVersion > startVersion + UInt64(models.count) { models.append(model) }
        }
        if close {
            try db.close()
            return (nil, models)
        }
        return (db, models)
    }

    /// Copies a database directory's data and index files.
    private func copy(_ from: String, to: String) throws {
        try? FileManager.default.removeItem(atPath: to)
        try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
        for name in ["data", "index"] where FileManager.default.fileExists(atPath: from + "/" + name) {
            try FileManager.default.copyItem(atPath: from + "/" + name, toPath: to + "/" + name)
        }
    }

    /// Opens `path` and asserts it is at `version` with `models[version - 1]`, earlier versions intact.
    private func assertOpens(_ path: String, at version: UInt64, models: [Model], random: inout SeededGenerator,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let db = try openDatabase(path: path)
        XCTAssertEqual(db.latestVersion, version, "latest version after recovery", file: file, line: line)
        let expectedVersions = Array(1 ... max(1, version)).prefix(Int(version))
        XCTAssertEqual(try db.versions().map(\.version), Array(expectedVersions), "index after recovery", file: file, line: line)
        var toRead = [version]
        for _ in 0 ..< 3 where version > 1 { toRead.append(UInt64.random(in: 1 ... version, using: &random)) }
        for v in toRead where v > 0 {
            let entries = try db.read(at: v) { Array(try $0.scan()) }
            XCTAssertTrue(entries.elementsEqual(sortedEntries(models[Int(v) - 1]), by: { $0.key == $1.key && $0.value == $1.value }),
                          "version \(v) reads back whole", file: file, line: line)
        }
        try db.checkAndClose(file: file, line: line)
    }

    func testTruncatedDataFileOpensAtNewestIntactCommit() throws {
        let seed = testSeed("truncate-data")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let original = directory.path("original")
        let (_, models) = try build(original, commits: 40, durability: .full, random: &random)
        let lengths = try openDatabase(path: original).versions().map(\.fileLength)
        let fileLength = lengths.last!
        var offsets: [UInt64] = [0, 63, 2_000, 4095, 4096, 4097, fileLength - 1, fileLength - 4096] + lengths.prefix(5) + lengths.prefix(5).map { $0 - 1 }
        for _ in 0 ..< 30 { offsets.append(UInt64.random(in: 0 ..< fileLength, using: &random)) }
        for offset in offsets {
            let damaged = directory.path("cut-\(offset)")
            try copy(original, to: damaged)
            try FileManager.default.createDirectory(atPath: damaged, withIntermediateDirectories: true)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: damaged + "/data"))
            try handle.truncate(atOffset: offset)
            try handle.close()
            if offset < 4096 {
                // The header page is cut (it is written whole, through a rename, at creation,
                // so this is damage, not a torn write): not a database any more, and said so.
                XCTAssertThrowsError(try openDatabase(path: damaged), "offset \(offset)")
                continue
            }
            let expected = UInt64(lengths.lastIndex { $0 <= offset }.map { $0 + 1 } ?? 0)
            try assertOpens(damaged, at: expected, models: models, random: &random)
        }
    }

    func testMissingOrDamagedIndexIsRebuilt() throws {
        let seed = testSeed("index")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let original = directory.path("original")
        let (_, models) = try build(original, commits: 30, durability: .full, random: &random)
        let indexLength = UInt64(models.count * IndexRecord.size)

        // Deleted.
        let deleted = directory.path("deleted")
        try copy(original, to: deleted)
        try FileManager.default.removeItem(atPath: deleted + "/index")
        try assertOpens(deleted, at: UInt64(models.count), models: models, random: &random)

        // Truncated at random byte offsets.
        for _ in 0 ..< 12 {
            let offset = UInt64.random(in: 0 ..< indexLength, using: &random)
            let cut = directory.path("index-cut-\(offset)")
            try copy(original, to: cut)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: cut + "/index"))
            try handle.truncate(atOffset: offset)
            try handle.close()
            try assertOpens(cut, at: UInt64(models.count), models: models, random: &random)
        }

        // A flipped byte in a record in the middle, and garbage appended.
        let flipped = directory.path("index-flip")
        try copy(original, to: flipped)
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: flipped + "/index")))
        bytes[IndexRecord.size * 11 + 9] ^= 0x40
        bytes += random.bytes(100)
        try Data(bytes).write(to: URL(fileURLWithPath: flipped + "/index"))
        try assertOpens(flipped, at: UInt64(models.count), models: models, random: &random)
    }

    func testFlippedByteInUnsyncedTailDropsThatCommitAndLater() throws {
        let seed = testSeed("tail-flip")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let original = directory.path("original")
        let (_, durable) = try build(original, commits: 10, durability: .full, random: &random)
        // Ten more commits without sync, and no close: the process "crashes".
        var (db, tail) = try build(original, commits: 10, durability: .none, random: &random, startingFrom: durable.last!, close: false)
        let lengths = try db!.versions().map(\.fileLength)
        db = nil
        let models = durable + tail
        XCTAssertEqual(lengths.count, durable.count + tail.count)

        for _ in 0 ..< 10 {
            let victim = Int.random(in: durable.count + 1 ... lengths.count, using: &random)
            let first = lengths[victim - 2], end = lengths[victim - 1]
            let offset = Int(UInt64.random(in: first ..< end, using: &random))
            let damaged = directory.path("flip-\(victim)-\(offset)")
            try copy(original, to: damaged)
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: damaged + "/data")))
            bytes[offset] ^= UInt8(1 << Int.random(in: 0 ..< 8, using: &random))
            try Data(bytes).write(to: URL(fileURLWithPath: damaged + "/data"))
            try assertOpens(damaged, at: UInt64(victim - 1), models: models, random: &random)
        }
        // Undamaged, the unsynced tail is verified and kept whole.
        let intact = directory.path("intact")
        try copy(original, to: intact)
        try assertOpens(intact, at: UInt64(lengths.count), models: models, random: &random)
    }

    func testOpenVerifiesOnlyTheTail() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("history")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        for i in 0 ..< 2_000 { try db.write { try $0.put(b("k\(i % 50)"), b("\(i)")) } }
        try db.close()
        // Close synced the tail and marked the last index record: reopening verifies nothing.
        let store = try PageStore(backend: POSIXStorage(), directory: path, readOnly: true, minimumReservation: 1 << 30)
        let log = try RootLog(backend: POSIXStorage(), directory: path, readOnly: true)
        let pages = try store.filePages()
        let result = try Recovery.run(store: store, mapping: try store.map(covering: pages), filePages: pages, log: log)
        XCTAssertEqual(result.latest?.record.version, 2_000)
        XCTAssertEqual(result.pagesVerified, 0)
        XCTAssertEqual(result.trustedFileRecords, 2_000)
    }
}
