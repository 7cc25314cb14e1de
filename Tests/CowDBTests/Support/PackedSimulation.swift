import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB

// The steps of the packed-history simulation (PackedSimulationTests): commits, compactions
// that pack (all, all but the newest k) or drop versions (packed or not), rollbacks (mostly
// to packed versions), reopening; mirrored in an `EveryVersionModel` of every version.

/// One run of the simulation: the database, its model and the seeded randomness.
final class PackedSimulation {
    /// Named keyspaces that come and go ("a" is a prefix of "ab"; "é" is not ASCII).
    static let names = ["a", "ab", "é", "z"]

    let path: String
    let options: DatabaseOptions
    /// The test that opens the database (so that it is checked when the test ends).
    private unowned let test: XCTestCase
    var db: Database
    var model = EveryVersionModel()
    var random: SeededGenerator
    var check: WholeVersionCheck
    /// What was checked (printed at the end): whole reads of packed and tree versions, diffs
    /// with a packed side, compactions that packed, rollbacks to packed versions, reopens.
    var packedReads = 0, treeReads = 0, packedDiffs = 0, packingCompactions = 0, packedRollbacks = 0, reopens = 0

    /// A fresh database at `path`.
    init(test: XCTestCase, path: String, seed: UInt64) throws {
        var options = DatabaseOptions()
        options.durability = .none
        options.automaticCompaction = nil // the simulation compacts when it chooses to
        options.dirtyPageBudget = 32 * 4096
        self.path = path
        self.options = options
        self.test = test
        db = try test.openDatabase(path: path, options: options)
        random = SeededGenerator(seed: seed)
        var pool = Set<[UInt8]>()
        while pool.count < 400 {
            let n = Int.random(in: 0 ..< 100_000, using: &random)
            switch n % 4 {
            case 0: pool.insert(b("user:\(n % 997)")) // shared prefixes
            case 1: pool.insert(random.bytes(24))
            case 2: pool.insert([UInt8(n % 3), UInt8(n % 251)]) // short, binary, zero bytes
            default: pool.insert(b(String(repeating: "k", count: 12) + "\(n % 5000)")) // long equal heads
            }
        }
        check = WholeVersionCheck(context: "seed \(seed)", keyPool: pool.sorted { $0.lexicographicallyPrecedes($1) }) // sorted: replays
    }

    /// A value: mostly short, some empty, one in 30 an overflow run.
    private func value() -> [UInt8] {
        let roll = Int.random(in: 0 ..< 30, using: &random)
        if roll == 0 { return random.bytes(Int.random(in: 2000 ... 12000, using: &random)) }
        if roll == 1 { return [] }
        return random.bytes(Int.random(in: 1 ... 60, using: &random))
    }

    // MARK: Steps

    /// One commit of 1–25 puts, inserts and deletes (now and then 150), maybe a keyspace created or dropped.
    func commit() throws {
        var state = model.latestState
        let before = db.latestVersion
        let operations = Int.random(in: 0 ..< 10, using: &random) == 0 ? 150 : Int.random(in: 1 ... 25, using: &random)
        try db.write { txn in
            if Int.random(in: 0 ..< 8, using: &random) == 0 {
                let name = Self.names.randomElement(using: &random)!
                if state[name] == nil { _ = try txn.createKeyspace(name); state[name] = [:] } else { try txn.dropKeyspace(name); state[name] = nil }
            }
            for _ in 0 ..< operations {
                let name = state.keys.sorted().randomElement(using: &random)!
                let keyspace = try name.isEmpty ? txn.defaultKeyspace : txn.keyspace(name)
                let key = check.keyPool.randomElement(using: &random)!
                switch Int.random(in: 0 ..< 20, using: &random) {
                case 0 ..< 13: let v = value(); try keyspace.put(key, v); state[name]![key] = v
                case 13 ..< 18: XCTAssertEqual(try keyspace.delete(key), state[name]!.removeValue(forKey: key) != nil, "\(check.context): delete")
                default:
                    let v = value()
                    let inserted = try keyspace.insert(key, v)
                    XCTAssertEqual(inserted, state[name]![key] == nil, "\(check.context): insert")
                    if inserted { state[name]![key] = v }
                }
            }
        }
        if db.latestVersion != before { model.commit(db.latestVersion, state) } else { XCTAssertEqual(state, model.latestState) }
    }

    /// A compaction keeping every version, packing all of them but the newest one or k.
    func pack() throws {
        let packing: Packing = Bool.random(using: &random) ? .all : .allButNewest(Int.random(in: 1 ... 6, using: &random))
        try compact(RetentionPolicy(keepAll: true), kept: model.versions, packing)
    }

    /// A compaction dropping versions (the newest few and a random half are kept), packing or not.
    func dropVersions() throws {
        let chosen = Set(model.versions.filter { _ in Bool.random(using: &random) })
        let keepLast = Int.random(in: 1 ... 5, using: &random)
        let packing = [Packing.none, .all, .allButNewest(Int.random(in: 1 ... 4, using: &random))].randomElement(using: &random)!
        let kept = model.kept(keepLast: keepLast, chosen: chosen)
        let dropped = model.versions.filter { !kept.contains($0) }
        try compact(RetentionPolicy(keepLast: keepLast, keepTags: false, keepVersions: chosen), kept: kept, packing)
        if let gone = dropped.randomElement(using: &random) {
            XCTAssertThrowsError(try db.read(at: gone) { _ in }) { XCTAssertEqual($0 as? CowDBError, .versionNotFound(gone)) }
        }
    }

    /// Compacts with `policy`, which must keep `kept`; the model follows, and which versions
    /// the database says are packed must be the model's.
    private func compact(_ policy: RetentionPolicy, kept: [UInt64], _ packing: Packing) throws {
        guard !kept.isEmpty else { return }
        let report = try db.compact(keeping: policy, packing: packing)
        model.compact(keeping: kept, packing: packing)
        if !model.packed.isEmpty { packingCompactions += 1 }
        XCTAssertEqual(report.versionsKept, kept.count, "\(check.context): versions kept")
        XCTAssertEqual(try db.versions().map(\.version), model.versions, "\(check.context): versions after compacting (\(packing))")
        try assertPackedVersions()
    }

    /// Each version is packed exactly when the model says so.
    func assertPackedVersions() throws {
        for version in model.versions {
            let packed = try db.read(at: version) { $0.source.packed != nil }
            XCTAssertEqual(packed, model.packed.contains(version), "\(check.context): version \(version) packed")
        }
    }

    /// A rollback to an older version, mostly a packed one.
    func rollback() throws {
        let older = model.versions.dropLast()
        let packed = older.filter { model.packed.contains($0) }
        guard let target = (packed.isEmpty || Int.random(in: 0 ..< 4, using: &random) == 0 ? Array(older) : packed).randomElement(using: &random)
        else { return }
        let version = try db.rollback(to: target)
        XCTAssertGreaterThan(version, model.latest, "\(check.context): rollback to \(target)")
        model.commit(version, model.state(target))
        if model.packed.contains(target) { packedRollbacks += 1 }
        XCTAssertEqual(try db.rolledBackFrom(version: version), target, "\(check.context): rolled back from")
    }

    /// Closes and opens the database again.
    func reopen() throws {
        try db.close()
        db = try test.openDatabase(path: path, options: options)
        reopens += 1
        XCTAssertEqual(try db.versions().map(\.version), model.versions, "\(check.context): versions after reopening")
        try assertPackedVersions()
    }

    // MARK: Checks

    /// Reads `versions` whole, and `diffs` random pairs (one packed/tree pair and one
    /// packed/packed pair when there are such), against the model.
    func verify(_ versions: [UInt64], diffs: Int) throws {
        for version in versions {
            try check.version(db, version, model.state(version), &random)
            if model.packed.contains(version) { packedReads += 1 } else { treeReads += 1 }
        }
        let all = model.versions, packed = model.packed.sorted(), trees = all.filter { !model.packed.contains($0) }
        var pairs = (0 ..< diffs).compactMap { _ in all.randomElement(using: &random).map { ($0, all.randomElement(using: &random)!) } }
        if let p = packed.randomElement(using: &random), let t = trees.randomElement(using: &random) { pairs += [(p, t), (t, p)] }
        if let p = packed.randomElement(using: &random), let q = packed.randomElement(using: &random) { pairs.append((p, q)) }
        for (from, to) in pairs {
            try check.diff(db, from: from, to: to, model, &random)
            if model.packed.contains(from) || model.packed.contains(to) { packedDiffs += 1 }
        }
    }

    /// Up to `count` random versions (packed ones first), and the latest.
    func sample(_ count: Int) -> [UInt64] {
        let packed = model.versions.filter { model.packed.contains($0) }.shuffled(using: &random)
        let trees = model.versions.filter { !model.packed.contains($0) }.shuffled(using: &random)
        return Array(Set(Array((packed.prefix(count / 2 + 1) + trees).prefix(count)) + [model.latest].filter { $0 > 0 })).sorted()
    }
}
