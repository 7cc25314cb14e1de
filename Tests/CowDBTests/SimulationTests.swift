import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Seeded model-based simulation: random operations against CowDB and an in-memory model,
/// old versions sampled and read back whole, then again after close and reopen.
final class SimulationTests: XCTestCase {
    typealias Model = [String: [[UInt8]: [UInt8]]]
    static let defaultName = ""

    func testRandomOperationsAgainstModel() throws {
        let seed = testSeed("simulation")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        options.dirtyPageBudget = 48 * 4096 // small, so spilling runs often
        options.automaticCompaction = nil // it compacts (and packs) mid-run itself: a replay is exact
        let path = directory.path("sim.cowdb")
        var db: Database? = try openDatabase(path: path, options: options)
        var model: Model = [Self.defaultName: [:]]
        var samples: [(version: UInt64, model: Model)] = []
        var sampledInAll = 0
        var operations = 0
        let commits = 420

        var commit = 0
        while commit < commits || operations < 100_000 {
            commit += 1
            let operationsInCommit = Int.random(in: 1 ... 500, using: &random)
            try db!.write { txn in
                for _ in 0 ..< operationsInCommit {
                    operations += 1
                    try randomOperation(in: txn, &model, &random)
                }
            }
            if Int.random(in: 0 ..< 100, using: &random) < 60 {
                samples.append((db!.latestVersion, model))
            }
            if commit == 210 {
                try compactMidRun(db!, samples: &samples, sampledInAll: &sampledInAll, random: &random)
            }
            if commit % 140 == 0 {
                // Close and reopen mid-run.
                try db!.close()
                db = try openDatabase(path: path, options: options)
            }
        }
        sampledInAll += samples.count
        print("simulation: \(operations) operations in \(commit) commits, \(sampledInAll) sampled versions")
        XCTAssertGreaterThanOrEqual(operations, 100_000)
        XCTAssertGreaterThanOrEqual(sampledInAll, 200)

        try verify(db!, samples: samples, random: &random)
        try db!.close()
        db = try openDatabase(path: path, options: options)
        // After reopening, every fourth sample again (the first pass read them all).
        try verify(db!, samples: samples.enumerated().filter { $0.offset % 4 == 0 }.map(\.element), random: &random)
        try db!.checkAndClose()
    }

    /// How many distinct keys the simulation draws from.
    private static let keyPool = 12_000

    /// A random key in one of four shapes (shared prefixes, equal heads, short binary).
    private static func randomKey(_ random: inout SeededGenerator) -> [UInt8] {
        let n = Int.random(in: 0 ..< keyPool, using: &random)
        switch n % 4 {
        case 0: return b("user:\(n)") // shared prefixes: heads tie
        case 1: return b("u\(n)")
        case 2: return b(String(repeating: "k", count: 10) + "\(n)") // heads equal across all of these
        default: return [UInt8(n & 0xFF), UInt8(n >> 8)] // short, binary
        }
    }

    /// A random value: mostly short, some empty, a few large enough to overflow.
    private static func randomValue(_ random: inout SeededGenerator) -> [UInt8] {
        let roll = Int.random(in: 0 ..< 1000, using: &random)
        if roll < 4 { return random.bytes(Int.random(in: 4000 ... 40000, using: &random)) } // overflow
        if roll < 30 { return [] }
        return random.bytes(Int.random(in: 1 ... 120, using: &random))
    }

    /// One random operation in `txn` on a random keyspace: put, insert, delete, get, a short
    /// scan, a cursor walk, or a keyspace created or dropped; mirrored in and checked against `model`.
    private func randomOperation(in txn: WriteTransaction, _ model: inout Model, _ random: inout SeededGenerator) throws {
        let names = model.keys.sorted()
        let name = names.randomElement(using: &random)!
        let keyspace = try name == Self.defaultName ? txn.defaultKeyspace : txn.keyspace(name)
        let roll = Int.random(in: 0 ..< 1000, using: &random)
        switch roll {
        case 0 ..< 550:
            let key = Self.randomKey(&random), value = Self.randomValue(&random)
            try keyspace.put(key, value)
            model[name]![key] = value
        case 550 ..< 650:
            let key = Self.randomKey(&random), value = Self.randomValue(&random)
            let inserted = try keyspace.insert(key, value)
            XCTAssertEqual(inserted, model[name]![key] == nil)
            if inserted { model[name]![key] = value }
        case 650 ..< 900:
            let key = Self.randomKey(&random)
            let existed = try keyspace.delete(key)
            XCTAssertEqual(existed, model[name]!.removeValue(forKey: key) != nil, "delete result")
        case 900 ..< 990:
            let key = Self.randomKey(&random)
            XCTAssertEqual(try keyspace.get(key), model[name]![key], "get inside the write transaction")
        case 990 ..< 993:
            try checkShortScan(keyspace, model[name]!, &random)
        case 993 ..< 996:
            try walkCursorWithAWrite(keyspace, &model[name]!, &random)
        default:
            if roll % 2 == 0, model.count < 6 {
                let newName = "ks-\(Int.random(in: 0 ..< 20, using: &random))"
                if model[newName] == nil {
                    _ = try txn.createKeyspace(newName)
                    model[newName] = [:]
                }
            } else if let victim = names.filter({ $0 != Self.defaultName }).randomElement(using: &random) {
                try txn.dropKeyspace(victim)
                model[victim] = nil
            }
        }
    }

    /// A short range scan, forward or reverse, reading the write transaction's own writes.
    private func checkShortScan(_ keyspace: Keyspace, _ entries: [[UInt8]: [UInt8]], _ random: inout SeededGenerator) throws {
        let lo = Self.randomKey(&random), hi = Self.randomKey(&random)
        let (from, to) = lo.lexicographicallyPrecedes(hi) ? (lo, hi) : (hi, lo)
        let reverse = Bool.random(using: &random)
        let got = Array(try keyspace.scan(from: from, to: to, reverse: reverse).prefix(20))
        var expected = sortedEntries(entries.filter {
            !$0.key.lexicographicallyPrecedes(from) && $0.key.lexicographicallyPrecedes(to)
        })
        if reverse { expected.reverse() }
        XCTAssertTrue(got.elementsEqual(expected.prefix(20), by: { $0.key == $1.key && $0.value == $1.value }), "scan in txn")
    }

    /// A cursor walk of up to ten steps with a put in the middle: values, order and no key skipped.
    private func walkCursorWithAWrite(_ keyspace: Keyspace, _ entries: inout [[UInt8]: [UInt8]], _ random: inout SeededGenerator) throws {
        var cursor = try keyspace.cursor()
        var entry = try cursor.seek(to: Self.randomKey(&random))
        var steps = 0
        while let current = entry, steps < 10 {
            XCTAssertEqual(entries[current.key], current.value, "cursor value")
            if steps == 3 { let k = Self.randomKey(&random); try keyspace.put(k, [1]); entries[k] = [1] }
            let after = current.key
            entry = try cursor.next()
            if let next = entry {
                XCTAssertTrue(after.lexicographicallyPrecedes(next.key), "cursor order")
                let between = entries.keys.filter { after.lexicographicallyPrecedes($0) && $0.lexicographicallyPrecedes(next.key) }
                XCTAssertTrue(between.isEmpty, "cursor skipped keys")
            }
            steps += 1
        }
    }

    /// Compacts mid-run with a random policy, packing or not: the sampled versions it keeps must read back
    /// whole (checked against the model), the others must be gone. Empties `samples` (verified;
    /// the rest of the run samples anew), counting them in `sampledInAll`.
    private func compactMidRun(_ db: Database, samples: inout [(version: UInt64, model: Model)], sampledInAll: inout Int,
                               random: inout SeededGenerator) throws {
        let chosen = Set(samples.filter { _ in Bool.random(using: &random) }.map(\.version))
        let policy = RetentionPolicy(keepLast: Int.random(in: 1 ... 20, using: &random), keepTags: false, keepVersions: chosen)
        sampledInAll += samples.count
        // Packing or not: the kept versions read the same either way.
        let packing = [Packing.none, .all, .allButNewest(Int.random(in: 1 ... 10, using: &random))].randomElement(using: &random)!
        let report = try db.compact(keeping: policy, packing: packing)
        let kept = Set(try db.versions().map(\.version))
        XCTAssertTrue(chosen.isSubset(of: kept))
        XCTAssertEqual(report.versionsKept, kept.count)
        for (version, _) in samples.filter({ !kept.contains($0.version) }).prefix(10) {
            XCTAssertThrowsError(try db.read(at: version) { _ in }) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(version)) }
        }
        samples = samples.filter { kept.contains($0.version) }
        // Packed versions scan slower (a debug build's seconds each): every third of them, then.
        try verify(db, samples: packing == .none ? samples : samples.enumerated().filter { $0.offset % 3 == 0 }.map(\.element), random: &random)
        print("simulation: compacted to \(kept.count) versions (\(samples.count) sampled, packing \(packing)), \(report.bytesBefore) → \(report.bytesAfter) bytes")
        samples.removeAll()
    }

    /// Reads every sampled version back whole and compares it with the model.
    private func verify(_ db: Database, samples: [(version: UInt64, model: Model)], random: inout SeededGenerator) throws {
        for (version, model) in samples {
            try db.read(at: version) { txn in
                XCTAssertEqual(txn.version, version)
                let names = try txn.keyspaces()
                XCTAssertEqual(names, model.keys.filter { $0 != Self.defaultName }.sorted(), "keyspaces at \(version)")
                // In name order: the draws below must come in the same order on every run of a seed.
                for name in model.keys.sorted() {
                    let entries = model[name]!
                    let keyspace = try name == Self.defaultName ? txn.defaultKeyspace : txn.keyspace(name)
                    let expected = sortedEntries(entries)
                    let forward = Array(try keyspace.scan())
                    XCTAssertEqual(forward.count, expected.count, "entries of \(name) at \(version)")
                    XCTAssertTrue(forward.elementsEqual(expected, by: { $0.key == $1.key && $0.value == $1.value }), "scan of \(name) at \(version)")
                    XCTAssertEqual(try keyspace.count(), UInt64(expected.count))
                    if Bool.random(using: &random) {
                        let backward = Array(try keyspace.scan(reverse: true))
                        XCTAssertTrue(backward.elementsEqual(expected.reversed(), by: { $0.key == $1.key && $0.value == $1.value }), "reverse scan of \(name) at \(version)")
                    }
                    for entry in expected.shuffled(using: &random).prefix(20) {
                        XCTAssertEqual(try keyspace.get(entry.key), entry.value)
                    }
                }
            }
        }
    }
}
