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
    /// The keyspaces of the source (RandomHistory's): the default (empty name), one named,
    /// and one that is created and dropped along the way.
    private let names = RandomHistory.names

    func testEveryVersionOfTheHistoryTreeReadsAsTheSourceDoes() throws {
        let seed = testSeed("history-entries")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let source = try openDatabase(path: directory.path("source"))
        for _ in 0 ..< Int.random(in: 50 ... 100, using: &random) {
            try source.write { try RandomHistory.commit($0, &random) }
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
                let expected = try source.read(at: version) { txn in try names.map { try RandomHistory.content(txn, $0) ?? [] } }
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
        let probes = model.map(\.key) + (0 ..< 6).map { _ in RandomHistory.key(&random) }
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
