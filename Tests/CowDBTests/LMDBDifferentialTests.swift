import CLMDB
import CowDB
import Foundation
import XCTest

/// Differential test against LMDB: one seeded random workload is applied to CowDB and to
/// LMDB, and every view is compared — the latest state, and a dozen old versions pinned by
/// LMDB read transactions that stay open while writing continues (CowDB reads them back with
/// `read(at:)`). Run with COWDB_SEED=<n> to replay a printed seed.
final class LMDBDifferentialTests: XCTestCase {
    func testRandomWorkloadMatchesLMDBAtEveryPinnedVersion() throws {
        let seed = testSeed("LMDB differential")
        let run = try LMDBDifferentialRun(seed: seed, test: self)
        defer { run.tearDown() }
        do {
            try run.execute()
        } catch {
            XCTFail("[seed \(seed)] stopped by error during \(run.phase): \(error)")
        }
    }
}

// MARK: - The run

/// The state of one differential run: both databases, the workload generator and the
/// LMDB read transactions held open.
private final class LMDBDifferentialRun {
    /// How the workload is shaped.
    static let transactions = 400
    static let pinnedSnapshots = 12
    /// The transaction that creates keyspace "delta", and the one that drops keyspace "beta".
    static let createTransaction = 120
    static let dropTransaction = 230
    /// The transaction that ends by deleting every key of "gamma" (which later refills).
    static let emptyTransaction = 300
    static let emptiedName = "gamma"
    /// LMDB's name for CowDB's default keyspace.
    static let defaultName = "__default"
    static let initialNames = [defaultName, "alpha", "beta", "gamma"]
    static let allNames = [defaultName, "alpha", "beta", "delta", "gamma"]
    static let createdName = "delta"
    static let droppedName = "beta"
    static let maxFailures = 25

    struct Stats {
        var committed = 0
        var aborted = 0
        var puts = 0
        var inserts = 0
        var deletes = 0
        var rangeDeletes = 0
        var rangeDeleted = 0
        var largeValues = 0
        var transactionReads = 0
        var cursorMoves = 0
        var verifiedEntries = 0
        var probes = 0

        var writes: Int { puts + inserts + deletes }
        var operations: Int { writes + transactionReads }
    }

    /// One keyspace of the workload: its keys ever written (some since deleted).
    struct Space {
        var keys: [[UInt8]] = []
        var live: Bool
    }

    /// An LMDB read transaction held open, and the CowDB version current when it began.
    struct Pinned {
        let label: String
        let reader: LMDBTransaction
        let dbis: [String: MDB_dbi]
        let version: UInt64
        let snapshot: CowDB.Snapshot
    }

    struct AbortTransaction: Error {}
    struct TooManyFailures: Error, CustomStringConvertible {
        var description: String { "too many mismatches, stopping" }
    }

    let seed: UInt64
    var rng: SeededGenerator
    let directory = TemporaryDirectory()
    let options: DatabaseOptions
    var db: Database
    let lmdb: LMDBEnvironment
    var spaces: [String: Space] = [:]
    var writerDBIs: [String: MDB_dbi] = [:]
    var prefixes: [[UInt8]] = []
    var pinned: [Pinned] = []
    var stats = Stats()
    var failures = 0
    /// What the run is doing (for the failure message of an unexpected error).
    var phase = "setup"
    var createVersion: UInt64 = 0
    var dropVersion: UInt64 = 0

    /// The test whose end checks the CowDB database (see `openDatabase`).
    let test: XCTestCase

    init(seed: UInt64, test: XCTestCase) throws {
        self.seed = seed
        self.test = test
        var rng = SeededGenerator(seed: seed)
        // Half the seeds use a tiny dirty budget, so big transactions write leaves early (spill).
        let smallBudget = rng.next() % 2 == 0
        self.rng = rng
        var options = DatabaseOptions()
        options.durability = .none
        if smallBudget { options.dirtyPageBudget = 64 << 10 }
        self.options = options
        print("dirtyPageBudget: \(options.dirtyPageBudget) bytes")
        db = try test.openDatabase(path: directory.path("cowdb"), options: options)
        lmdb = try LMDBEnvironment(path: directory.path("lmdb"), mapSize: 1 << 30, maxDatabases: 16)
        for name in Self.allNames { spaces[name] = Space(live: Self.initialNames.contains(name)) }
        makePrefixes()
    }

    func tearDown() {
        for pin in pinned {
            pin.snapshot.close()
            pin.reader.abort()
        }
        pinned.removeAll()
        lmdb.close()
        do { try db.close() } catch { XCTFail("[seed \(seed)] close: \(error)") }
    }

    // MARK: Running

    func execute() throws {
        let start = Date()
        try setUpKeyspaces()

        // Where to pin: before creating "delta", just before and just after dropping "beta",
        // and random points.
        var points: Set<Int> = [Self.createTransaction, Self.dropTransaction, Self.dropTransaction + 1, Self.emptyTransaction + 1]
        while points.count < Self.pinnedSnapshots { points.insert(randomInt(below: Self.transactions)) }

        for index in 0 ..< Self.transactions {
            phase = "pinning before transaction \(index)"
            if points.contains(index) { try pin(label: "before transaction \(index)") }
            phase = "transaction \(index)"
            try runTransaction(index)
        }
        let written = Date()
        let sizes = try db.stats().keyspaces.map { "\($0.name ?? Self.defaultName) \($0.entries) (depth \($0.depth))" }.joined(separator: ", ")

        let entryCounts = Dictionary(uniqueKeysWithValues: try db.versions().map { ($0.version, $0.entryCount) })
        for pin in pinned {
            phase = "checking \(pin.label)"
            try checkPinnedVersion(pin, entryCounts: entryCounts, thorough: true)
        }
        phase = "checking the latest version"
        try checkLatest(label: "latest", thorough: true)

        // Reopen: the versions must read the same from the file as they did in memory.
        for pin in pinned { pin.snapshot.close() }
        try db.close()
        db = try test.openDatabase(path: directory.path("cowdb"), options: options)
        for pin in pinned {
            phase = "checking \(pin.label) after reopening"
            try checkPinnedVersion(pin, entryCounts: entryCounts, thorough: false, checkSnapshot: false)
        }
        phase = "checking the latest version after reopening"
        try checkLatest(label: "latest after reopen", thorough: false)
        phase = "check() of every version"
        try db.checkAndClose()

        let end = Date()
        print(String(format: "LMDB differential: seed %llu, dirty budget %d KiB: %d transactions (%d committed, %d aborted), "
                + "%d operations (%d writes: %d puts, %d inserts, %d deletes of which %d in %d range deletes, "
                + "%d values of 20 KB+; %d reads inside write transactions, %d cursor moves); "
                + "%d pinned versions + latest checked twice: %d entries compared, %d probes; write phase %.2f s, total %.2f s",
            seed, options.dirtyPageBudget >> 10, Self.transactions, stats.committed, stats.aborted,
            stats.operations, stats.writes, stats.puts, stats.inserts, stats.deletes, stats.rangeDeleted, stats.rangeDeletes,
            stats.largeValues, stats.transactionReads, stats.cursorMoves,
            pinned.count, stats.verifiedEntries, stats.probes,
            written.timeIntervalSince(start), end.timeIntervalSince(start)) + "; final keyspace sizes: \(sizes)")
        XCTAssertGreaterThanOrEqual(stats.operations, 10_000, "[seed \(seed)] workload too small")
    }

    /// Creates the initial keyspaces in both databases.
    func setUpKeyspaces() throws {
        let writer = try lmdb.beginWrite()
        defer { writer.abort() }
        try db.write { txn in
            for name in Self.initialNames where name != Self.defaultName { _ = try txn.createKeyspace(name) }
        }
        for name in Self.initialNames { writerDBIs[name] = try writer.openDatabase(name, create: true) }
        try writer.commit()
    }

    /// Opens an LMDB read transaction (kept open to the end) and notes CowDB's latest version.
    func pin(label: String) throws {
        let reader = try lmdb.beginRead()
        var dbis: [String: MDB_dbi] = [:]
        for name in Self.allNames {
            guard let dbi = try reader.openDatabase(name) else { continue }
            // Load the database's root now, so this handle stays valid in this transaction
            // after a later writer drops the database (which closes the handle).
            _ = try reader.count(dbi)
            dbis[name] = dbi
        }
        pinned.append(Pinned(label: label, reader: reader, dbis: dbis, version: db.latestVersion, snapshot: try db.snapshot()))
    }

    /// One transaction of the workload on both databases; a few are rolled back.
    func runTransaction(_ index: Int) throws {
        let operations = chance(15) ? randomInt(in: 51 ... 300) : randomInt(in: 1 ... 50)
        let special = [Self.createTransaction, Self.dropTransaction, Self.emptyTransaction].contains(index)
        let rollBack = !special && chance(3)
        let writer = try lmdb.beginWrite()
        defer { writer.abort() }
        do {
            try db.write { txn in
                var handles: [String: Keyspace] = [:]
                if index == Self.createTransaction {
                    handles[Self.createdName] = try txn.createKeyspace(Self.createdName)
                    writerDBIs[Self.createdName] = try writer.openDatabase(Self.createdName, create: true)
                    spaces[Self.createdName]?.live = true
                }
                let dropAt = index == Self.dropTransaction ? operations / 2 : -1
                for op in 0 ..< operations {
                    if op == dropAt { try dropKeyspace(txn, writer, &handles) }
                    try step(txn, writer, &handles)
                }
                if index == Self.emptyTransaction { try emptyKeyspace(txn, writer) }
                if rollBack { throw AbortTransaction() }
            }
        } catch is AbortTransaction {
            stats.aborted += 1
            return
        }
        try writer.commit()
        stats.committed += 1
        if index == Self.createTransaction { createVersion = db.latestVersion }
        if index == Self.dropTransaction { dropVersion = db.latestVersion }
    }

    /// Drops "beta" in both databases, inside the running transaction.
    func dropKeyspace(_ txn: WriteTransaction, _ writer: LMDBTransaction, _ handles: inout [String: Keyspace]) throws {
        let name = Self.droppedName
        try txn.dropKeyspace(name)
        try writer.drop(writerDBIs[name]!, delete: true)
        writerDBIs[name] = nil
        handles[name] = nil
        spaces[name]?.live = false
        try expectKeyspaceNotFound(in: txn, name, "the transaction that dropped it")
        try expect(try !txn.keyspaces().contains(name), "dropped keyspace still listed by the transaction that dropped it")
    }

    /// Deletes every key of "gamma", inside the running transaction.
    func emptyKeyspace(_ txn: WriteTransaction, _ writer: LMDBTransaction) throws {
        let name = Self.emptiedName
        let keyspace = try txn.keyspace(name)
        try deleteRun(keyspace, writer, writerDBIs[name]!, name, from: [0], length: .max, downward: false)
        let count = try keyspace.count()
        try expect(count == 0, "\(name): count() after deleting every key is \(count)")
        try compareEntries(Array(try keyspace.scan()), [LMDBEntry](), "\(name): scan after deleting every key")
    }

    /// One random operation on a random live keyspace, compared where it returns something.
    func step(_ txn: WriteTransaction, _ writer: LMDBTransaction, _ handles: inout [String: Keyspace]) throws {
        // The default keyspace gets 40% of the operations (it grows deepest), the others share the rest.
        let name = chance(40) ? Self.defaultName : pick(Self.allNames.filter { $0 != Self.defaultName && spaces[$0]!.live })
        let keyspace: Keyspace
        if let handle = handles[name] {
            keyspace = handle
        } else {
            keyspace = name == Self.defaultName ? txn.defaultKeyspace : try txn.keyspace(name)
            handles[name] = keyspace
        }
        let dbi = writerDBIs[name]!
        switch randomInt(below: 1000) {
        case 0 ..< 400: // put (new key or overwrite)
            let key = chooseKey(name, existingPercent: 30)
            let value = makeValue()
            try keyspace.put(key, value)
            try writer.put(dbi, key, value)
            stats.puts += 1
        case 400 ..< 540: // insert (put-if-absent)
            let key = chooseKey(name, existingPercent: 50)
            let value = makeValue()
            let inserted = try keyspace.insert(key, value)
            let expected = try writer.insert(dbi, key, value)
            try expect(inserted == expected, "insert of \(hex(key)) in \(name) returned \(inserted), LMDB \(expected)")
            stats.inserts += 1
        case 540 ..< 640: // delete a key written before (present unless deleted since)
            let key = chooseKey(name, existingPercent: 100)
            let removed = try keyspace.delete(key)
            let expected = try writer.delete(dbi, key)
            try expect(removed == expected, "delete of \(hex(key)) in \(name) returned \(removed), LMDB \(expected)")
            stats.deletes += 1
        case 640 ..< 680: // delete a new, mostly absent key
            let key = newKey(name)
            let removed = try keyspace.delete(key)
            let expected = try writer.delete(dbi, key)
            try expect(removed == expected, "delete of \(hex(key)) in \(name) returned \(removed), LMDB \(expected)")
            stats.deletes += 1
        case 680 ..< 682: // delete a run of consecutive keys (merges and shrinks the tree)
            let length = chance(15) ? randomInt(in: 100 ... 250) : randomInt(in: 5 ... 40)
            try deleteRun(keyspace, writer, dbi, name, from: chooseKey(name, existingPercent: 70), length: length, downward: chance(30))
        case 682 ..< 820: // read your own writes
            let key = chance(70) ? chooseKey(name, existingPercent: 100) : newKey(name)
            try compareGet(keyspace, writer, dbi, key, "\(name), inside a write transaction")
            stats.transactionReads += 1
        case 820 ..< 900: // cursor inside the write transaction, with a change while it stands
            try compareCursorInWrite(keyspace, writer, dbi, name)
            stats.transactionReads += 1
        default: // a short bounded scan inside the write transaction
            let from = chance(80) ? chooseKey(name, existingPercent: 60) : nil
            let to = chance(50) ? chooseKey(name, existingPercent: 60) : nil
            let reverse = chance(40)
            let limit = randomInt(in: 1 ... 25)
            let actual = Array(try keyspace.scan(from: from, to: to, reverse: reverse).prefix(limit))
            let expected = try lmdbRange(writer, dbi, from: from, to: to, reverse: reverse, limit: limit)
            try compareEntries(actual, expected, "\(name): scan(from: \(hex(from)), to: \(hex(to)), reverse: \(reverse)) inside a write transaction")
            stats.transactionReads += 1
        }
    }

    /// Deletes `length` consecutive keys (in LMDB's order) up from `start` or, sometimes, down from it.
    func deleteRun(_ keyspace: Keyspace, _ writer: LMDBTransaction, _ dbi: MDB_dbi, _ name: String,
                   from start: [UInt8], length: Int, downward: Bool) throws {
        let victims = try (downward
            ? lmdbRange(writer, dbi, from: nil, to: start, reverse: true, limit: length)
            : lmdbRange(writer, dbi, from: start, to: nil, reverse: false, limit: length)).map(\.key)
        for key in victims {
            let removed = try keyspace.delete(key)
            try expect(removed, "\(name): range delete of present key \(hex(key)) returned false")
            try expect(try writer.delete(dbi, key), "\(name): LMDB range delete of \(hex(key)) (test bug)")
        }
        stats.rangeDeletes += 1
        stats.rangeDeleted += victims.count
        stats.deletes += victims.count
    }

    /// Seeks, moves, changes the keyspace (sometimes deleting the current key), moves again:
    /// a CowDB cursor re-seeks after a change, an LMDB cursor is adjusted by the change.
    func compareCursorInWrite(_ keyspace: Keyspace, _ writer: LMDBTransaction, _ dbi: MDB_dbi, _ name: String) throws {
        var cursor = try keyspace.cursor()
        try writer.withCursor(dbi) { reference in
            let target = chooseKey(name, existingPercent: 60)
            var actual = try cursor.seek(to: target)
            var expected = try reference.seek(to: target)
            let what = "\(name): cursor in a write transaction after seek(to: \(hex(target)))"
            try compareEntry(actual, expected, what)
            for move in 0 ..< randomInt(in: 0 ... 6) {
                guard let current = actual, expected != nil else { return }
                if move == 1 {
                    // Change the keyspace under both cursors.
                    if chance(50) {
                        let removed = try keyspace.delete(current.key)
                        try expect(removed == (try writer.delete(dbi, current.key)), "\(what): delete of the current key")
                        stats.deletes += 1
                    } else {
                        let key = chooseKey(name, existingPercent: 30)
                        let value = makeValue()
                        try keyspace.put(key, value)
                        try writer.put(dbi, key, value)
                        stats.puts += 1
                    }
                }
                let forward = chance(60)
                actual = forward ? try cursor.next() : try cursor.previous()
                expected = forward ? try reference.next() : try reference.previous()
                stats.cursorMoves += 1
                try compareEntry(actual, expected, "\(what), move \(move + 1) (\(forward ? "next" : "previous"))")
            }
        }
    }

    // MARK: Checking views

    /// Compares a pinned LMDB read transaction with CowDB's `read(at:)` of the version noted.
    func checkPinnedVersion(_ pin: Pinned, entryCounts: [UInt64: UInt64], thorough: Bool, checkSnapshot: Bool = true) throws {
        let label = "\(pin.label) (version \(pin.version))"
        try db.read(at: pin.version) { txn in
            try expect(txn.version == pin.version, "\(label): read(at:) returned version \(txn.version)")
            try compareView(txn, pin.reader, pin.dbis, label: label, thorough: thorough)
            // The dropped keyspace: present before the drop, gone after; "delta" the reverse.
            let hasDropped = pin.version < dropVersion
            let hasCreated = pin.version >= createVersion
            try expect((pin.dbis[Self.droppedName] != nil) == hasDropped, "\(label): LMDB disagrees with the drop point (test bug)")
            if hasDropped {
                _ = try txn.keyspace(Self.droppedName)
            } else {
                try expectKeyspaceNotFound(in: txn, Self.droppedName, label)
            }
            if !hasCreated { try expectKeyspaceNotFound(in: txn, Self.createdName, label) }
        }
        // The entry count recorded with the version: all keyspaces together.
        var total = 0
        for (_, dbi) in pin.dbis { total += try pin.reader.count(dbi) }
        if let recorded = entryCounts[pin.version] {
            try expect(recorded == UInt64(total), "\(label): versions() says \(recorded) entries, LMDB has \(total)")
        } else if pin.version != 0 {
            try expect(false, "\(label): versions() does not list version \(pin.version)")
        }
        // The long-lived Snapshot of the same moment.
        if checkSnapshot {
            try expect(pin.snapshot.version == pin.version, "\(label): snapshot() version \(pin.snapshot.version)")
            let names = try pin.snapshot.keyspaces()
            try expect(names == (try lmdbKeyspaceNames(pin.reader)), "\(label): Snapshot.keyspaces() \(names)")
            if let dbi = pin.dbis[Self.defaultName] {
                try compareEntries(try pin.snapshot.scan(), try pin.reader.allEntries(dbi), "\(label): Snapshot.scan()")
            }
        }
    }

    /// Compares a fresh LMDB read transaction with CowDB's latest version.
    func checkLatest(label: String, thorough: Bool) throws {
        let reader = try lmdb.beginRead()
        defer { reader.abort() }
        var dbis: [String: MDB_dbi] = [:]
        for name in Self.allNames {
            if let dbi = try reader.openDatabase(name) { dbis[name] = dbi }
        }
        try db.read { txn in
            try expect(txn.version == db.latestVersion, "\(label): read version \(txn.version), latestVersion \(db.latestVersion)")
            try compareView(txn, reader, dbis, label: label, thorough: thorough)
            try expectKeyspaceNotFound(in: txn, Self.droppedName, label)
        }
    }

    /// Names of LMDB's named databases (the keys of its main database), without "__default".
    func lmdbKeyspaceNames(_ reader: LMDBTransaction) throws -> [String] {
        guard let main = try reader.openDatabase(nil) else { return [] }
        return try reader.allEntries(main).map { String(decoding: $0.key, as: UTF8.self) }.filter { $0 != Self.defaultName }
    }

    /// Compares every keyspace of one version.
    func compareView(_ txn: ReadTransaction, _ reader: LMDBTransaction, _ dbis: [String: MDB_dbi], label: String, thorough: Bool) throws {
        let names = try txn.keyspaces()
        let expectedNames = try lmdbKeyspaceNames(reader)
        try expect(names == expectedNames, "\(label): keyspaces() \(names), LMDB \(expectedNames)")
        for name in Self.allNames {
            let keyspace: Keyspace?
            if name == Self.defaultName {
                keyspace = txn.defaultKeyspace
            } else {
                do {
                    keyspace = try txn.keyspace(name)
                } catch let error as CowDBError where error == .keyspaceNotFound(name) {
                    keyspace = nil
                }
            }
            guard let keyspace, let dbi = dbis[name] else {
                try expect((keyspace == nil) == (dbis[name] == nil),
                           "\(label): keyspace \(name) exists in CowDB: \(keyspace != nil), in LMDB: \(dbis[name] != nil)")
                continue
            }
            try compareKeyspace(keyspace, reader, dbi, name: name, label: "\(label), keyspace \(name)", thorough: thorough)
            if name == Self.defaultName {
                try expect(txn.count == (try keyspace.count()), "\(label): txn.count \(txn.count) differs from defaultKeyspace.count()")
            }
        }
    }

    /// Full scans both ways, point gets, seeks with walks and bounded scans of one keyspace.
    func compareKeyspace(_ keyspace: Keyspace, _ reader: LMDBTransaction, _ dbi: MDB_dbi, name: String, label: String, thorough: Bool) throws {
        let expected = try reader.allEntries(dbi)
        let expectedReversed = try reader.allEntriesReversed(dbi)
        try compareEntries(expectedReversed.reversed(), expected, "\(label): LMDB reverse scan (reference sanity)")
        try compareEntries(Array(try keyspace.scan()), expected, "\(label): forward full scan")
        try compareEntries(Array(try keyspace.scan(reverse: true)), expectedReversed, "\(label): reverse full scan")
        let count = try keyspace.count()
        try expect(count == UInt64(expected.count), "\(label): count() \(count), LMDB \(expected.count)")
        stats.verifiedEntries += 2 * expected.count

        // Point gets of present and absent keys.
        for _ in 0 ..< (thorough ? 120 : 30) {
            let key = chance(55) && !expected.isEmpty ? pick(expected).key : probeKey(near: expected, name)
            try compareGet(keyspace, reader, dbi, key, label)
            stats.probes += 1
        }

        // Seeks (MDB_SET_RANGE), each followed by a short walk.
        try reader.withCursor(dbi) { reference in
            for _ in 0 ..< (thorough ? 60 : 15) {
                let target = probeKey(near: expected, name)
                var cursor = try keyspace.cursor()
                var actual = try cursor.seek(to: target)
                var wanted = try reference.seek(to: target)
                let what = "\(label): seek(to: \(hex(target)))"
                try compareEntry(actual, wanted, what)
                stats.probes += 1
                for move in 0 ..< randomInt(in: 0 ... 6) {
                    guard actual != nil, wanted != nil else { break }
                    let forward = chance(60)
                    actual = forward ? try cursor.next() : try cursor.previous()
                    wanted = forward ? try reference.next() : try reference.previous()
                    stats.cursorMoves += 1
                    try compareEntry(actual, wanted, "\(what), move \(move + 1) (\(forward ? "next" : "previous"))")
                }
            }
        }

        // first() / last() on a fresh cursor.
        var cursor = try keyspace.cursor()
        try compareEntry(try cursor.first(), expected.first, "\(label): cursor.first()")
        try compareEntry(try cursor.last(), expected.last, "\(label): cursor.last()")

        // Bounded scans, both directions.
        for _ in 0 ..< (thorough ? 16 : 4) {
            let from = chance(85) ? probeKey(near: expected, name) : nil
            let to = chance(85) ? probeKey(near: expected, name) : nil
            let forward = try lmdbRange(reader, dbi, from: from, to: to, reverse: false)
            let backward = try lmdbRange(reader, dbi, from: from, to: to, reverse: true)
            try compareEntries(backward.reversed(), forward, "\(label): LMDB reverse range (reference sanity)")
            let range = "scan(from: \(hex(from)), to: \(hex(to))"
            try compareEntries(Array(try keyspace.scan(from: from, to: to)), forward, "\(label): \(range))")
            try compareEntries(Array(try keyspace.scan(from: from, to: to, reverse: true)), backward, "\(label): \(range), reverse: true)")
            stats.probes += 2
        }
    }

    func compareGet(_ keyspace: Keyspace, _ reference: LMDBTransaction, _ dbi: MDB_dbi, _ key: [UInt8], _ label: String) throws {
        let expected = try reference.get(dbi, key)
        let actual = try keyspace.get(key)
        try expect(sameOptionalBytes(actual, expected), "\(label): get(\(hex(key))) = \(describe(actual)), LMDB \(describe(expected))")
        switch randomInt(below: 10) {
        case 0:
            let present = try keyspace.contains(key)
            try expect(present == (expected != nil), "\(label): contains(\(hex(key))) = \(present), LMDB \(expected != nil)")
        case 1:
            let copied = try keyspace.withValue(for: key) { Array($0) }
            try expect(sameOptionalBytes(copied, expected), "\(label): withValue(for: \(hex(key))) = \(describe(copied)), LMDB \(describe(expected))")
        default:
            break
        }
    }

    /// The entries of `[from, to)` by LMDB cursor moves (reverse: from the last key < `to` down).
    func lmdbRange(_ reader: LMDBTransaction, _ dbi: MDB_dbi, from: [UInt8]?, to: [UInt8]?, reverse: Bool, limit: Int = .max) throws -> [LMDBEntry] {
        try reader.withCursor(dbi) { cursor in
            var result: [LMDBEntry] = []
            var entry: LMDBEntry?
            if reverse {
                if let to {
                    entry = try cursor.seek(to: to) == nil ? try cursor.last() : try cursor.previous()
                } else {
                    entry = try cursor.last()
                }
            } else {
                entry = try from.map { try cursor.seek(to: $0) } ?? cursor.first()
            }
            while let current = entry, result.count < limit {
                if let to, compareKeys(current.key, to) >= 0 { break }
                if let from, compareKeys(current.key, from) < 0 { break }
                result.append(current)
                entry = reverse ? try cursor.previous() : try cursor.next()
            }
            return result
        }
    }

    // MARK: Expectations

    func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        guard !condition else { return }
        XCTFail("[seed \(seed)] \(message())")
        failures += 1
        if failures >= Self.maxFailures { throw TooManyFailures() }
    }

    func expectKeyspaceNotFound(in txn: ReadTransaction, _ name: String, _ label: String) throws {
        do {
            _ = try txn.keyspace(name)
            try expect(false, "\(label): keyspace(\(name)) should throw keyspaceNotFound")
        } catch let error as CowDBError {
            try expect(error == .keyspaceNotFound(name), "\(label): keyspace(\(name)) threw \(error), expected keyspaceNotFound")
        }
    }

    func compareEntry(_ actual: LMDBEntry?, _ expected: LMDBEntry?, _ what: String) throws {
        let same: Bool
        switch (actual, expected) {
        case (nil, nil): same = true
        case let (a?, e?): same = sameBytes(a.key, e.key) && sameBytes(a.value, e.value)
        default: same = false
        }
        try expect(same, "\(what): CowDB \(describe(actual)), LMDB \(describe(expected))")
    }

    func compareEntries<A: Collection, B: Collection>(_ actual: A, _ expected: B, _ what: String) throws
        where A.Element == LMDBEntry, B.Element == LMDBEntry {
        var a = actual.makeIterator()
        var e = expected.makeIterator()
        var index = 0
        while true {
            let x = a.next()
            let y = e.next()
            if x == nil, y == nil { return }
            if let x, let y, sameBytes(x.key, y.key), sameBytes(x.value, y.value) {
                index += 1
                continue
            }
            try expect(false, "\(what): \(actual.count) entries, LMDB \(expected.count); first difference at #\(index): "
                + "CowDB \(describe(x)), LMDB \(describe(y))")
            return
        }
    }

    // MARK: Workload generation

    /// A uniform integer in `range`, by rejection (the standard library's algorithm for
    /// `Int.random(in:using:)` is not promised to stay the same across releases).
    func randomInt(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        let limit = UInt64.max - UInt64.max % span
        var x = rng.next()
        while x >= limit { x = rng.next() }
        return range.lowerBound + Int(x % span)
    }

    /// A uniform integer in `0 ..< bound`.
    func randomInt(below bound: Int) -> Int { randomInt(in: 0 ... bound - 1) }

    /// True with probability `percent` / 100.
    func chance(_ percent: Int) -> Bool { randomInt(below: 100) < percent }

    /// A uniformly chosen element of a non-empty array.
    func pick<T>(_ items: [T]) -> T { items[randomInt(below: items.count)] }

    /// Key prefixes shared by many keys, many 8 bytes or longer (so 8-byte key heads tie),
    /// some extending others.
    func makePrefixes() {
        for _ in 0 ..< 24 {
            let length = pick([1, 2, 3, 4, 6, 7, 8, 8, 8, 9, 11, 12, 16])
            if !prefixes.isEmpty, chance(30) {
                let base = pick(prefixes)
                prefixes.append(base + keyBytes(max(1, length - base.count)))
            } else {
                prefixes.append(keyBytes(length))
            }
        }
    }

    /// Random bytes, a quarter of the time from a small alphabet of edge values.
    func keyBytes(_ count: Int) -> [UInt8] {
        guard chance(25) else { return rng.bytes(count) }
        let alphabet: [UInt8] = [0x00, 0x01, 0x02, 0x61, 0x7F, 0x80, 0xFE, 0xFF]
        return (0 ..< count).map { _ in pick(alphabet) }
    }

    /// A new key for keyspace `name` (1...100 bytes): mostly a shared prefix plus a suffix,
    /// sometimes fully random, sometimes a near neighbour of a key already written.
    func newKey(_ name: String) -> [UInt8] {
        let roll = randomInt(below: 100)
        var key: [UInt8]
        if roll < 65 {
            let prefix = pick(prefixes)
            let suffix = chance(85) ? randomInt(in: 0 ... 12) : randomInt(in: 0 ... 100 - prefix.count)
            key = prefix + keyBytes(suffix)
        } else if roll < 80 || spaces[name]!.keys.isEmpty {
            key = keyBytes(randomInt(in: 1 ... 100))
        } else {
            key = neighbour(of: pick(spaces[name]!.keys))
        }
        if key.isEmpty { key = [pick([0x00, 0x61, 0xFF])] }
        return Array(key.prefix(100))
    }

    /// A key close to `key` in order: extended, truncated, last byte nudged, or its 8-byte head.
    func neighbour(of key: [UInt8]) -> [UInt8] {
        var result = key
        switch randomInt(below: 7) {
        case 0: result.append(0x00)
        case 1: result += keyBytes(randomInt(in: 1 ... 4))
        case 2: if result.count > 1 { result.removeLast() } else { result.append(0xFF) }
        case 3: if result[result.count - 1] < 0xFF { result[result.count - 1] += 1 } else { result.append(0x00) }
        case 4: if result[result.count - 1] > 0 { result[result.count - 1] -= 1 } else if result.count > 1 { result.removeLast() }
        case 5: result = Array(result.prefix(8))
        default: result = Array(result.prefix(8)) + [0xFF, 0xFF]
        }
        return Array(result.prefix(100))
    }

    /// A key written before to keyspace `name` (with probability `existingPercent`) or a new
    /// one, which is remembered.
    func chooseKey(_ name: String, existingPercent: Int) -> [UInt8] {
        if let keys = spaces[name]?.keys, !keys.isEmpty, chance(existingPercent) { return pick(keys) }
        let key = newKey(name)
        spaces[name]!.keys.append(key)
        return key
    }

    /// A key to look up or seek to in a view: present, a neighbour of a present key, or new.
    func probeKey(near entries: [LMDBEntry], _ name: String) -> [UInt8] {
        if entries.isEmpty || chance(25) { return newKey(name) }
        let key = pick(entries).key
        return chance(20) ? key : neighbour(of: key)
    }

    /// A value: mostly 0...3000 bytes, some around the page size, a few of 20–200 KB.
    func makeValue() -> [UInt8] {
        let roll = randomInt(below: 1000)
        let size: Int
        if roll < 8 {
            size = randomInt(in: 20_000 ... 200_000)
            stats.largeValues += 1
        } else if roll < 50 {
            size = randomInt(in: 1500 ... 5000)
        } else if roll < 420 {
            size = randomInt(in: 0 ... 40)
        } else if roll < 760 {
            size = randomInt(in: 41 ... 800)
        } else {
            size = randomInt(in: 801 ... 3000)
        }
        return rng.bytes(size)
    }
}

// MARK: - Byte helpers

/// Lexicographic byte order, the order of both CowDB and LMDB's default comparator.
private func compareKeys(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let common = min(a.count, b.count)
    let result = a.withUnsafeBytes { x in b.withUnsafeBytes { y in common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common) } }
    if result != 0 { return Int(result) }
    return a.count - b.count
}

/// Byte equality through memcmp (fast in debug builds, unlike `==` on large arrays).
private func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    a.count == b.count && compareKeys(a, b) == 0
}

private func sameOptionalBytes(_ a: [UInt8]?, _ b: [UInt8]?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case let (x?, y?): return sameBytes(x, y)
    default: return false
    }
}

private func hex(_ bytes: [UInt8]?) -> String {
    guard let bytes else { return "nil" }
    let shown = bytes.prefix(40).map { String(format: "%02x", $0) }.joined()
    return "0x" + shown + (bytes.count > 40 ? "…(\(bytes.count) bytes)" : "")
}

private func describe(_ value: [UInt8]?) -> String {
    guard let value else { return "nil" }
    return "\(value.count) bytes \(hex(Array(value.prefix(12))))"
}

private func describe(_ entry: LMDBEntry?) -> String {
    guard let entry else { return "nil" }
    return "(key \(hex(entry.key)), value \(describe(entry.value)))"
}
