import CowDB
import CowDBTestSupport
import XCTest

// Reads one version back whole and holds every answer to the model's state: `keyspaces()`,
// and per keyspace forward and reverse scans (whole and of a range), counts, gets, `contains`
// and `withValue` of present and absent keys, cursor walks both ways, `withEntries`. Used by
// the packed-history simulation on packed and tree versions alike.

/// Whole-version and diff checks against an `EveryVersionModel`.
struct WholeVersionCheck {
    /// For messages: the seed and the step.
    var context: String
    /// Keys the simulation may use (absent keys are drawn from it too).
    let keyPool: [[UInt8]]

    /// Reads `version` of `db` whole and compares it with `state`.
    func version(_ db: Database, _ version: UInt64, _ state: EveryVersionModel.State, _ random: inout SeededGenerator) throws {
        try db.read(at: version) { txn in
            let where_ = "\(context): version \(version)"
            XCTAssertEqual(txn.version, version, where_)
            XCTAssertEqual(try txn.keyspaces(), EveryVersionModel.sortedNames(state.keys.filter { !$0.isEmpty }), "\(where_): keyspaces")
            XCTAssertEqual(try txn.count, UInt64(state[""]!.count), "\(where_): default count")
            for name in EveryVersionModel.sortedNames(state.keys) {
                let keyspace = try name.isEmpty ? txn.defaultKeyspace : txn.keyspace(name)
                try self.keyspace(keyspace, state[name]!, "\(where_) keyspace \(name.debugDescription)", &random)
            }
            let absent = "never-a-keyspace"
            XCTAssertThrowsError(try txn.keyspace(absent), "\(where_): absent keyspace")
        }
    }

    /// One keyspace read every way.
    private func keyspace(_ keyspace: Keyspace, _ entries: [[UInt8]: [UInt8]], _ where_: String, _ random: inout SeededGenerator) throws {
        let expected = sortedEntries(entries)
        let same = { (a: (key: [UInt8], value: [UInt8]), b: (key: [UInt8], value: [UInt8])) in a.key == b.key && a.value == b.value }
        XCTAssertEqual(try keyspace.count(), UInt64(expected.count), "\(where_): count")
        XCTAssertTrue(try keyspace.scan().elementsEqual(expected, by: same), "\(where_): forward scan")
        XCTAssertTrue(try keyspace.scan(reverse: true).elementsEqual(expected.reversed(), by: same), "\(where_): reverse scan")
        let (from, to) = randomRange(&random)
        let inRange = expected.filter { !$0.key.lexicographicallyPrecedes(from) && $0.key.lexicographicallyPrecedes(to) }
        let reverse = Bool.random(using: &random)
        XCTAssertTrue(try keyspace.scan(from: from, to: to, reverse: reverse).elementsEqual(reverse ? inRange.reversed() : inRange, by: same),
                      "\(where_): range scan (reverse \(reverse))")
        try gets(keyspace, entries, where_, &random)
        try cursorWalks(keyspace, expected, where_, &random)
        try withEntries(keyspace, expected, where_, &random)
    }

    /// Gets, `contains` and `withValue` of present keys and of pool keys (mostly absent).
    private func gets(_ keyspace: Keyspace, _ entries: [[UInt8]: [UInt8]], _ where_: String, _ random: inout SeededGenerator) throws {
        let present = entries.keys.sorted { $0.lexicographicallyPrecedes($1) }.shuffled(using: &random).prefix(12)
        let probes = Array(present) + (0 ..< 12).map { _ in keyPool.randomElement(using: &random)! } + [[0xFF, 0xFF, 0xFF, 0xFF, 0xFF]]
        for key in probes {
            XCTAssertEqual(try keyspace.get(key), entries[key], "\(where_): get \(key)")
            XCTAssertEqual(try keyspace.contains(key), entries[key] != nil, "\(where_): contains \(key)")
            XCTAssertEqual(try keyspace.withValue(for: key) { $0.count }, entries[key]?.count, "\(where_): withValue \(key)")
        }
    }

    /// Cursor walks: from a seek forward, from the last entry backward, and a seek then back.
    private func cursorWalks(_ keyspace: Keyspace, _ expected: [(key: [UInt8], value: [UInt8])], _ where_: String,
                             _ random: inout SeededGenerator) throws {
        var cursor = try keyspace.cursor()
        let start = keyPool.randomElement(using: &random)!
        var index = expected.firstIndex { !$0.key.lexicographicallyPrecedes(start) } ?? expected.count
        var entry = try cursor.seek(to: start)
        for _ in 0 ..< 30 {
            XCTAssertEqual(entry?.key, index < expected.count ? expected[index].key : nil, "\(where_): cursor forward key")
            XCTAssertEqual(entry?.value, index < expected.count ? expected[index].value : nil, "\(where_): cursor forward value")
            guard entry != nil else { break }
            entry = try cursor.next()
            index += 1
        }
        index = expected.count - 1
        entry = try cursor.last()
        for _ in 0 ..< 30 {
            XCTAssertEqual(entry?.key, index >= 0 ? expected[index].key : nil, "\(where_): cursor backward key")
            guard entry != nil else { break }
            entry = try cursor.previous()
            index -= 1
        }
        XCTAssertEqual(try cursor.first()?.key, expected.first?.key, "\(where_): cursor first")
        // A seek, then a step back: the last key before the seek key.
        let seekKey = keyPool.randomElement(using: &random)!
        let at = expected.firstIndex { !$0.key.lexicographicallyPrecedes(seekKey) }
        let found = try cursor.seek(to: seekKey)
        XCTAssertEqual(found?.key, at.map { expected[$0].key }, "\(where_): cursor seek")
        if found != nil, let at {
            XCTAssertEqual(try cursor.previous()?.key, at > 0 ? expected[at - 1].key : nil, "\(where_): cursor seek then previous")
        }
    }

    /// `withEntries` over the whole keyspace and over a random range with a limit.
    private func withEntries(_ keyspace: Keyspace, _ expected: [(key: [UInt8], value: [UInt8])], _ where_: String,
                             _ random: inout SeededGenerator) throws {
        var all: [(key: [UInt8], value: [UInt8])] = []
        try keyspace.withEntries { all.append((Array($0), Array($1))); return true }
        XCTAssertTrue(all.elementsEqual(expected) { $0.key == $1.key && $0.value == $1.value }, "\(where_): withEntries")
        let (from, to) = randomRange(&random)
        let limit = Int.random(in: 1 ... 20, using: &random)
        var some: [[UInt8]] = []
        try keyspace.withEntries(from: from, to: to, limit: limit) { key, _ in some.append(Array(key)); return true }
        let want = expected.filter { !$0.key.lexicographicallyPrecedes(from) && $0.key.lexicographicallyPrecedes(to) }.prefix(limit)
        XCTAssertEqual(some, want.map(\.key), "\(where_): withEntries range, limit \(limit)")
    }

    /// Two pool keys in order.
    private func randomRange(_ random: inout SeededGenerator) -> ([UInt8], [UInt8]) {
        let a = keyPool.randomElement(using: &random)!, b = keyPool.randomElement(using: &random)!
        return a.lexicographicallyPrecedes(b) ? (a, b) : (b, a)
    }

    /// Diffs from `from` to `to` (every keyspace, the default one, and one named keyspace of
    /// either) against the model's.
    func diff(_ db: Database, from: UInt64, to: UInt64, _ model: EveryVersionModel, _ random: inout SeededGenerator) throws {
        let (old, new) = (model.state(from), model.state(to))
        let where_ = "\(context): diff \(from) → \(to)"
        XCTAssertEqual(try db.diffAllKeyspaces(from: from, to: to) { Array($0) }, try EveryVersionModel.diffAll(old, new), "\(where_): all keyspaces")
        XCTAssertEqual(try db.diff(from: from, to: to) { Array($0) }, try EveryVersionModel.diff("", old, new), "\(where_): default keyspace")
        if let name = EveryVersionModel.sortedNames(Set(old.keys).union(new.keys).filter { !$0.isEmpty }).randomElement(using: &random) {
            XCTAssertEqual(try db.diff(from: from, to: to, keyspace: name) { Array($0) }, try EveryVersionModel.diff(name, old, new),
                           "\(where_): keyspace \(name)")
        }
    }
}
