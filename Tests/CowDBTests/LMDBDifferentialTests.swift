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
final class LMDBDifferentialRun {
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
            keyspace = try name == Self.defaultName ? txn.defaultKeyspace : txn.keyspace(name)
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
            try expect(inserted == expected, "insert of \(shownHex(key)) in \(name) returned \(inserted), LMDB \(expected)")
            stats.inserts += 1
        case 540 ..< 640: // delete a key written before (present unless deleted since)
            let key = chooseKey(name, existingPercent: 100)
            let removed = try keyspace.delete(key)
            let expected = try writer.delete(dbi, key)
            try expect(removed == expected, "delete of \(shownHex(key)) in \(name) returned \(removed), LMDB \(expected)")
            stats.deletes += 1
        case 640 ..< 680: // delete a new, mostly absent key
            let key = newKey(name)
            let removed = try keyspace.delete(key)
            let expected = try writer.delete(dbi, key)
            try expect(removed == expected, "delete of \(shownHex(key)) in \(name) returned \(removed), LMDB \(expected)")
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
            try compareEntries(actual, expected, "\(name): scan(from: \(shownHex(from)), to: \(shownHex(to)), reverse: \(reverse)) inside a write transaction")
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
            try expect(removed, "\(name): range delete of present key \(shownHex(key)) returned false")
            try expect(try writer.delete(dbi, key), "\(name): LMDB range delete of \(shownHex(key)) (test bug)")
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
            let what = "\(name): cursor in a write transaction after seek(to: \(shownHex(target)))"
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
}
