import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// `HistoryCursor` reads a keyspace of a history tree (docs/PACKED-HISTORY.md) as it was at a
/// version. The tree is built here as an ordinary keyspace of composite keys (the packing
/// writer does not exist yet); every version of a seeded random history is read back, by get,
/// forwards, backwards and by seek, and compared with a model that keeps every version.
final class HistoryCursorTests: XCTestCase {
    /// Keyspaces of the history: the default one (empty name) and a named one.
    private let keyspaces: [[UInt8]] = [[], Array("ks".utf8)]

    /// Keys rich in zero bytes and prefixes of one another.
    private func randomKey(_ random: inout SeededGenerator) -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0xFF]
        return (0 ..< Int.random(in: 0 ... 3, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
    }

    /// A seeded history: the state of each keyspace after each version (index 0: empty), and
    /// the entries (keyspace, key, version, value or nil for a removal) that make it.
    private func makeHistory(_ random: inout SeededGenerator, versions: Int)
        -> (states: [[[UInt8]: [[UInt8]: [UInt8]]]], entries: [([UInt8], [UInt8], UInt64, [UInt8]?)]) {
        var state: [[UInt8]: [[UInt8]: [UInt8]]] = [:]
        var states = [state]
        var entries: [([UInt8], [UInt8], UInt64, [UInt8]?)] = []
        for version in 1 ... UInt64(versions) {
            var changed: Set<[UInt8]> = []
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &random) {
                let keyspace = keyspaces.randomElement(using: &random)!
                let key = randomKey(&random)
                guard changed.insert(keyspace + [0xAA] + key).inserted else { continue }
                let remove = state[keyspace]?[key] != nil && Bool.random(using: &random)
                let value: [UInt8]? = remove ? nil : random.bytes(Int.random(in: 0 ... 12, using: &random))
                state[keyspace, default: [:]][key] = value
                entries.append((keyspace, key, version, value))
            }
            states.append(state)
        }
        return (states, entries)
    }

    /// The value bytes a found value holds.
    private func bytes(_ found: FoundValue?, _ pages: PageReader) throws -> [UInt8]? {
        try found.map { try BTree.withBytes(of: $0, pages: pages) { Array($0) } }
    }

    func testEveryVersionReadsBackAsTheModelHadIt() throws {
        let seed = testSeed("history-cursor")
        var random = SeededGenerator(seed: seed)
        let (states, entries) = makeHistory(&random, versions: 60)
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { txn in
            let history = try txn.createKeyspace("history")
            var composite: [UInt8] = []
            for (keyspace, key, version, value) in entries {
                keyspace.withUnsafeBytes { ks in key.withUnsafeBytes { HistoryKey.pair(keyspace: ks, key: $0, version: version, into: &composite) } }
                try history.put(composite, value.map { $0.withUnsafeBytes { HistoryValue.inline($0) } } ?? HistoryValue.inline(nil))
            }
        }
        try db.read { txn in
            guard case let .page(root)? = try txn.tree("history").root else { return XCTFail("no history tree") }
            let pages = txn.pages
            for version in 0 ..< UInt64(states.count) {
                for keyspace in keyspaces {
                    let model = states[Int(version)][keyspace] ?? [:]
                    try checkVersion(version, keyspace: keyspace, model: model, root: root, pages: pages, context: "seed \(seed) version \(version) keyspace \(keyspace)", random: &random)
                }
            }
        }
        try db.close()
    }

    /// Reads `keyspace` at `version` every way and compares it with `model`.
    private func checkVersion(_ version: UInt64, keyspace: [UInt8], model: [[UInt8]: [UInt8]], root: PageNumber, pages: PageReader,
                              context: String, random: inout SeededGenerator) throws {
        let expected = model.sorted { compareBytes($0.key, $1.key) < 0 }
        var cursor = HistoryCursor(rootPage: root, pages: pages, keyspace: keyspace, version: version)
        let (forward, backward) = try scanBothWays(&cursor, pages: pages)
        XCTAssertEqual(forward.map(\.0), expected.map(\.key), "\(context): forward keys")
        XCTAssertEqual(forward.map(\.1), expected.map(\.value), "\(context): forward values")
        XCTAssertEqual(backward, expected.map(\.key).reversed(), "\(context): backward keys")
        for _ in 0 ..< 8 {
            let probe = randomKey(&random)
            let got = try probe.withUnsafeBytes { try HistoryCursor.get(rootPage: root, pages: pages, keyspace: keyspace, key: $0, version: version) }
            XCTAssertEqual(try bytes(got, pages), model[probe], "\(context): get \(probe)")
            let positioned = try probe.withUnsafeBytes { try cursor.seek($0) }
            let next = expected.first { compareBytes($0.key, probe) >= 0 }
            XCTAssertEqual(positioned ? cursor.key : nil, next?.key, "\(context): seek \(probe)")
        }
    }

    /// A damaged history key (not a composite key at all) throws `corrupt`, never traps.
    func testAKeyThatIsNoHistoryKeyThrows() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try db.write { txn in try txn.createKeyspace("history").put([0x01, 0x61], [0x01]) }
        try db.read { txn in
            guard case let .page(root)? = try txn.tree("history").root else { return XCTFail("no history tree") }
            var cursor = HistoryCursor(rootPage: root, pages: txn.pages, keyspace: [], version: 1)
            XCTAssertThrowsError(try cursor.first()) { error in
                guard case CowDBError.corrupt = error else { return XCTFail("\(error)") }
            }
        }
        try db.close()
    }
}
