import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// The packed-history prototype end to end (docs/PACKED-HISTORY.md): a real database's
/// versions turned into history entries (`historyEntries`, from its states and diff walks),
/// built bottom-up into a history tree committed as a keyspace of another database
/// (`commitHistoryTree`), and every version read back through `HistoryCursor` exactly as
/// `read(at:)` reads it from the source.
final class HistoryEntriesTests: XCTestCase {
    /// The keyspaces of the source: the default (empty name), one named, and one that is
    /// created and dropped along the way.
    private let names: [String?] = [nil, "ks", "tmp"]

    /// A key from a small alphabet rich in zero bytes, so keys repeat (overwrites, deletes).
    private func randomKey(_ random: inout SeededGenerator) -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0xFF]
        return (0 ..< Int.random(in: 1 ... 3, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
    }

    /// A value: mostly small, one in ten too large for a 4 KiB leaf (an overflow run).
    private func randomValue(_ random: inout SeededGenerator) -> [UInt8] {
        random.bytes(Int.random(in: 0 ..< 10, using: &random) == 0 ? Int.random(in: 1500 ... 5000, using: &random)
                                                                   : Int.random(in: 0 ... 40, using: &random))
    }

    /// One commit of random puts, overwrites and deletes over the keyspaces; "tmp" is now and
    /// then created or dropped whole.
    private func randomCommit(_ txn: WriteTransaction, _ random: inout SeededGenerator) throws {
        var hasTmp = try txn.keyspaces().contains("tmp")
        if Int.random(in: 0 ..< 12, using: &random) == 0 {
            if hasTmp { try txn.dropKeyspace("tmp") } else { _ = try txn.createKeyspace("tmp") }
            hasTmp.toggle()
        }
        for _ in 0 ..< Int.random(in: 1 ... 6, using: &random) {
            let name = names.randomElement(using: &random)!
            if name == "tmp" && !hasTmp { continue }
            let key = randomKey(&random)
            let keyspace = try name.map { try txn.keyspaceCreatingIfMissing($0) }
            if Bool.random(using: &random) && Int.random(in: 0 ..< 3, using: &random) == 0 {
                _ = try keyspace.map { try $0.delete(key) } ?? txn.delete(key)
            } else {
                let value = randomValue(&random)
                try keyspace.map { try $0.put(key, value) } ?? txn.put(key, value)
            }
        }
    }

    /// The entries of keyspace `name` (nil: the default) in the version `txn` reads; none when
    /// the keyspace does not exist there.
    private func content(_ txn: ReadTransaction, _ name: String?) throws -> [(key: [UInt8], value: [UInt8])] {
        guard let name else { return try txn.scan().map { ($0.key, $0.value) } }
        guard try txn.keyspaces().contains(name) else { return [] }
        return try txn.keyspace(name).scan().map { ($0.key, $0.value) }
    }

    func testEveryVersionOfTheHistoryTreeReadsAsTheSourceDoes() throws {
        let seed = testSeed("history-entries")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let source = try openDatabase(path: directory.path("source"))
        for _ in 0 ..< Int.random(in: 50 ... 100, using: &random) {
            try source.write { try randomCommit($0, &random) }
        }
        let versions = try source.versions().map(\.version)
        let first = versions[Int.random(in: 0 ..< versions.count / 3, using: &random)], last = versions.last!
        let entries = try source.historyEntries(from: first, through: last)
        XCTAssertTrue(zip(entries, entries.dropFirst()).allSatisfy { compareBytes($0.key, $1.key) < 0 }, "seed \(seed): entries sorted")
        // The history exercises tombstones and overflow values (too large for a 4 KiB leaf).
        XCTAssertTrue(entries.contains { $0.value == nil }, "seed \(seed): no tombstone")
        XCTAssertTrue(entries.contains { ($0.value?.count ?? 0) >= 1500 }, "seed \(seed): no large value")
        let target = try openDatabase(path: directory.path("target"))
        let built = try target.commitHistoryTree(entries, asKeyspace: "history")
        XCTAssertEqual(built.count, UInt64(entries.count), "seed \(seed)")
        try target.read { txn in
            guard case let .page(root)? = try txn.tree("history").root else { return XCTFail("seed \(seed): no history tree") }
            XCTAssertEqual(root, built.root)
            for version in versions where version >= first {
                let expected = try source.read(at: version) { txn in try names.map { try content(txn, $0) } }
                for (name, model) in zip(names, expected) {
                    try checkVersion(version, Array((name ?? "").utf8), model, root: root, pages: txn.pages,
                                     context: "seed \(seed) version \(version) keyspace \(name ?? "default")", random: &random)
                }
            }
        }
        try source.checkAndClose()
        try target.checkAndClose()
    }

    /// The bytes of a value found in the history tree.
    private func bytes(_ found: FoundValue?, _ pages: PageReader) throws -> [UInt8]? {
        try found.map { try BTree.withBytes(of: $0, pages: pages) { Array($0) } }
    }

    /// Reads `keyspace` at `version` from the history tree by forward and backward scans, gets
    /// of every key and of random probes, and seeks; compares with `model` (the source's read).
    private func checkVersion(_ version: UInt64, _ keyspace: [UInt8], _ model: [(key: [UInt8], value: [UInt8])], root: PageNumber,
                              pages: PageReader, context: String, random: inout SeededGenerator) throws {
        var cursor = HistoryCursor(rootPage: root, pages: pages, keyspace: keyspace, version: version)
        let (forward, backward) = try scanBothWays(&cursor, pages: pages)
        XCTAssertEqual(forward.map(\.0), model.map(\.key), "\(context): forward keys")
        XCTAssertEqual(forward.map(\.1), model.map(\.value), "\(context): forward values")
        XCTAssertEqual(backward, model.map(\.key).reversed(), "\(context): backward keys")
        let probes = model.map(\.key) + (0 ..< 6).map { _ in randomKey(&random) }
        for probe in probes {
            let got = try probe.withUnsafeBytes { try HistoryCursor.get(rootPage: root, pages: pages, keyspace: keyspace, key: $0, version: version) }
            XCTAssertEqual(try bytes(got, pages), model.first { $0.key == probe }?.value, "\(context): get \(probe)")
            let positioned = try probe.withUnsafeBytes { try cursor.seek($0) }
            XCTAssertEqual(positioned ? cursor.key : nil, model.first { compareBytes($0.key, probe) >= 0 }?.key, "\(context): seek \(probe)")
        }
    }

    /// The longest key, all zero bytes, makes a composite key longer than the file's key
    /// limit: the history tree's half-page entries take it, and it reads back.
    func testTheLongestKeyFitsAHistoryTree() throws {
        let directory = TemporaryDirectory()
        let source = try openDatabase(path: directory.path("source"))
        let key = [UInt8](repeating: 0, count: source.maxKeySize)
        try source.write { try $0.put(key, [1]) }
        let entries = try source.historyEntries(from: 1, through: 1)
        XCTAssertEqual(entries.count, 2) // the pair and the default keyspace's catalog entry
        XCTAssertGreaterThan(entries.map(\.key.count).max() ?? 0, source.maxKeySize)
        let target = try Database(path: directory.path("target")) // unchecked-open: its keyspace holds keys past the file's key limit
        let built = try target.commitHistoryTree(entries, asKeyspace: "history")
        try target.read { txn in
            let found = try key.withUnsafeBytes {
                try HistoryCursor.get(rootPage: built.root, pages: txn.pages, keyspace: [], key: $0, version: 1)
            }
            XCTAssertEqual(try found.map { try BTree.withBytes(of: $0, pages: txn.pages) { Array($0) } }, [1])
        }
        XCTAssertThrowsError(try source.historyEntries(from: 1, through: 2)) { error in
            guard case CowDBError.versionNotFound(2) = error else { return XCTFail("\(error)") }
        }
        try source.checkAndClose()
        try target.close()
    }
}
