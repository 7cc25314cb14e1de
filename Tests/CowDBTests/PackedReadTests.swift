import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// The read API at packed versions (docs/PACKED-HISTORY.md): a seeded random history's packed
/// tree (pair and catalog entries, built with the history tree's limits) read back at every
/// version through every read API of `ReadTransaction`, `Keyspace`, `Cursor` and `Snapshot`,
/// each equal to the model's state at that version.
final class PackedReadTests: XCTestCase {
    /// A model's state as sorted pairs, per keyspace.
    private typealias Pairs = [(key: [UInt8], value: [UInt8])]

    func testEveryReadAPIAtEveryPackedVersionReadsTheModel() throws {
        let seed = testSeed("packed-read")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        let layout = try db.currentSource().pages.layout
        let model = PackedHistoryModel(random: &random, maxKey: layout.maxKeySize)
        let entries = model.entries()
        // The history exercises tombstones, overflow values and dropped keyspaces.
        XCTAssertTrue(entries.contains { $0.key[0] == HistoryKey.Kind.pair.rawValue && $0.value == nil }, "seed \(seed): no tombstone")
        XCTAssertTrue(entries.contains { ($0.value?.count ?? 0) > layout.historyMaxEntrySize }, "seed \(seed): no overflow value")
        XCTAssertTrue(entries.contains { $0.key[0] == HistoryKey.Kind.catalog.rawValue && $0.value == nil }, "seed \(seed): no dropped keyspace")
        let root = try db.commitPackedHistory(entries)
        for version in 1 ... model.lastVersion {
            let state = model.state(at: version)
            let total = state.values.reduce(0) { $0 + UInt64($1.count) }
            let source = try db.packedSource(root: root, version: version, totalCount: total)
            let context = "seed \(seed) version \(version)"
            let txn = ReadTransaction(source: source)
            XCTAssertEqual(txn.version, version, context)
            XCTAssertEqual(txn.timestamp, Date(timeIntervalSince1970: Double(version)), context)
            try checkTransaction(txn, state, pool: model.keyPool, context: context, random: &random)
            txn.invalidate()
            XCTAssertNil(txn.pendingError, context)
            try checkSnapshot(db.snapshot(of: source), version: version, state, pool: model.keyPool, context: context, random: &random)
        }
    }

    // MARK: Checks

    /// The model's pairs of keyspace `name` in `state`, sorted by key.
    private func pairs(_ state: PackedHistoryModel.State, _ name: String) -> Pairs {
        (state[name] ?? [:]).map { (key: $0.key, value: $0.value) }.sorted { compareBytes($0.key, $1.key) < 0 }
    }

    /// Checks a transaction on a packed version against `state`: version, counts, keyspaces
    /// (absent ones throw `keyspaceNotFound`), then every keyspace's reads.
    private func checkTransaction(_ txn: ReadTransaction, _ state: PackedHistoryModel.State, pool: [[UInt8]],
                                  context: String, random: inout SeededGenerator) throws {
        let named = state.keys.filter { !$0.isEmpty }.sorted { compareBytes(Array($0.utf8), Array($1.utf8)) < 0 }
        XCTAssertEqual(try txn.count, UInt64(state[""]!.count), "\(context): count")
        XCTAssertEqual(try txn.defaultKeyspace.count(), UInt64(state[""]!.count), "\(context): default keyspace count")
        XCTAssertEqual(try txn.keyspaces(), named, "\(context): keyspaces")
        for name in PackedHistoryModel.names where state[name] == nil {
            XCTAssertThrowsError(try txn.keyspace(name), "\(context): absent \(name)") {
                XCTAssertEqual($0 as? CowDBError, .keyspaceNotFound(name), context)
            }
        }
        let probes = pool + (0 ..< 4).map { _ in random.bytes(Int.random(in: 1 ... 17, using: &random)) }
        try checkTransactionGets(txn, pairs(state, ""), probes: probes, context: "\(context) default")
        for name in [""] + named {
            let keyspace = try name.isEmpty ? txn.defaultKeyspace : txn.keyspace(name)
            try checkKeyspace(keyspace, pairs(state, name), probes: probes, context: "\(context) keyspace '\(name)'", random: &random)
        }
    }

    /// The default keyspace's gets through the transaction's own methods (the fast path).
    private func checkTransactionGets(_ txn: ReadTransaction, _ model: Pairs, probes: [[UInt8]], context: String) throws {
        for probe in probes {
            let expected = model.first { $0.key == probe }?.value
            XCTAssertEqual(try txn.get(probe), expected, "\(context): get \(probe)")
            XCTAssertEqual(try txn.contains(probe), expected != nil, "\(context): contains \(probe)")
            XCTAssertEqual(try txn.withValue(for: probe) { Array($0) }, expected, "\(context): withValue \(probe)")
        }
        XCTAssertEqual(Array(try txn.scan()).map(\.key), model.map(\.key), "\(context): transaction scan")
        var collected: [[UInt8]] = []
        try txn.withEntries { key, _ in collected.append(Array(key)); return true }
        XCTAssertEqual(collected, model.map(\.key), "\(context): transaction withEntries")
        var cursor = try txn.cursor()
        XCTAssertEqual(try cursor.last()?.key, model.last?.key, "\(context): transaction cursor last")
    }

    /// Every read of one keyspace: count, gets, full and bounded scans both ways, cursor walks
    /// and reseeks, and `withEntries` with bounds and limits.
    private func checkKeyspace(_ keyspace: Keyspace, _ model: Pairs, probes: [[UInt8]], context: String,
                               random: inout SeededGenerator) throws {
        XCTAssertEqual(try keyspace.count(), UInt64(model.count), "\(context): count")
        for probe in probes {
            let expected = model.first { $0.key == probe }?.value
            XCTAssertEqual(try keyspace.get(probe), expected, "\(context): get \(probe)")
            XCTAssertEqual(try keyspace.contains(probe), expected != nil, "\(context): contains \(probe)")
            XCTAssertEqual(try keyspace.withValue(for: probe) { Array($0) }, expected, "\(context): withValue \(probe)")
        }
        let all = Array(try keyspace.scan())
        XCTAssertEqual(all.map(\.key), model.map(\.key), "\(context): scan keys")
        XCTAssertEqual(all.map(\.value), model.map(\.value), "\(context): scan values")
        XCTAssertEqual(Array(try keyspace.scan(reverse: true)).map(\.key), model.map(\.key).reversed(), "\(context): reverse scan")
        for _ in 0 ..< 4 {
            let (from, to) = (bound(probes, &random), bound(probes, &random))
            let expected = model.filter { inRange($0.key, from, to) }
            XCTAssertEqual(Array(try keyspace.scan(from: from, to: to)).map(\.key), expected.map(\.key), "\(context): scan \(from ?? []) ..< \(to ?? [])")
            XCTAssertEqual(Array(try keyspace.scan(from: from, to: to, reverse: true)).map(\.key), expected.map(\.key).reversed(),
                           "\(context): reverse scan \(from ?? []) ..< \(to ?? [])")
            let limit = Int.random(in: 1 ... max(1, expected.count + 1), using: &random)
            var collected: Pairs = []
            try keyspace.withEntries(from: from, to: to, limit: limit) { key, value in
                collected.append((Array(key), Array(value)))
                return true
            }
            XCTAssertEqual(collected.map(\.key), expected.prefix(limit).map(\.key), "\(context): withEntries limit \(limit)")
            XCTAssertEqual(collected.map(\.value), expected.prefix(limit).map(\.value), "\(context): withEntries values")
        }
        try checkCursor(keyspace, model, probes: probes, context: context, random: &random)
    }

    /// Cursor walks both ways, stepping past either end, and random reseeks followed by steps.
    private func checkCursor(_ keyspace: Keyspace, _ model: Pairs, probes: [[UInt8]], context: String,
                             random: inout SeededGenerator) throws {
        var cursor = try keyspace.cursor()
        var forward: Pairs = []
        var entry = try cursor.first()
        while let found = entry { forward.append(found); entry = try cursor.next() }
        XCTAssertEqual(forward.map(\.key), model.map(\.key), "\(context): cursor forward")
        XCTAssertEqual(forward.map(\.value), model.map(\.value), "\(context): cursor forward values")
        XCTAssertNil(try cursor.previous(), "\(context): an unpositioned cursor stays so")
        XCTAssertNil(try cursor.next(), "\(context): an unpositioned cursor stays so")
        var backward: [[UInt8]] = []
        entry = try cursor.last()
        while let found = entry { backward.append(found.key); entry = try cursor.previous() }
        XCTAssertEqual(backward, model.map(\.key).reversed(), "\(context): cursor backward")
        for _ in 0 ..< 6 {
            let probe = probes.randomElement(using: &random)!
            var index: Int? = model.firstIndex { compareBytes($0.key, probe) >= 0 }
            XCTAssertEqual(try cursor.seek(to: probe)?.key, index.map { model[$0].key }, "\(context): seek \(probe)")
            for _ in 0 ..< 5 {
                let ascending = Bool.random(using: &random)
                let got = ascending ? try cursor.next() : try cursor.previous()
                index = index.flatMap { ascending ? ($0 + 1 < model.count ? $0 + 1 : nil) : ($0 > 0 ? $0 - 1 : nil) }
                XCTAssertEqual(got?.key, index.map { model[$0].key }, "\(context): step \(ascending ? "next" : "previous") after seek \(probe)")
                XCTAssertEqual(got?.value, index.map { model[$0].value }, "\(context): step value")
                XCTAssertEqual(cursor.key, got?.key, "\(context): cursor key")
            }
        }
    }

    /// A snapshot of the packed version: its gets, scans and keyspaces.
    private func checkSnapshot(_ snapshot: Snapshot, version: UInt64, _ state: PackedHistoryModel.State, pool: [[UInt8]],
                               context: String, random: inout SeededGenerator) throws {
        defer { snapshot.close() }
        XCTAssertEqual(try snapshot.keyspaces(), state.keys.filter { !$0.isEmpty }.sorted { compareBytes(Array($0.utf8), Array($1.utf8)) < 0 })
        for name in PackedHistoryModel.names {
            let probe = pool.randomElement(using: &random)!
            guard let keyspace = state[name] else {
                XCTAssertThrowsError(try snapshot.get(probe, keyspace: name), "\(context): snapshot absent \(name)")
                continue
            }
            XCTAssertEqual(try snapshot.get(probe, keyspace: name), keyspace[probe], "\(context): snapshot get in \(name)")
        }
        let model = pairs(state, "")
        let probe = pool.randomElement(using: &random)!
        XCTAssertEqual(try snapshot.get(probe), state[""]![probe], "\(context): snapshot get")
        let (from, to) = (bound(pool, &random), bound(pool, &random))
        let expected = model.filter { inRange($0.key, from, to) }
        XCTAssertEqual(try snapshot.scan(from: from, to: to).map(\.key), expected.map(\.key), "\(context): snapshot scan")
        XCTAssertEqual(try snapshot.scan(from: from, to: to, reverse: true).map(\.value), expected.map(\.value).reversed(),
                       "\(context): snapshot reverse scan")
        XCTAssertEqual(snapshot.version, version, context)
    }

    /// A random scan bound: none, or a pool key.
    private func bound(_ pool: [[UInt8]], _ random: inout SeededGenerator) -> [UInt8]? {
        Int.random(in: 0 ..< 3, using: &random) == 0 ? nil : pool.randomElement(using: &random)!
    }

    /// Whether `key` lies in `[from, to)`.
    private func inRange(_ key: [UInt8], _ from: [UInt8]?, _ to: [UInt8]?) -> Bool {
        (from.map { compareBytes(key, $0) >= 0 } ?? true) && (to.map { compareBytes(key, $0) < 0 } ?? true)
    }
}
