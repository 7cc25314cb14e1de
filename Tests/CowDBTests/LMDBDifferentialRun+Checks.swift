// The differential run against LMDB: comparing versions, keyspaces and ranges, and the expectations.

import CLMDB
import CowDB
import Foundation
import XCTest

extension LMDBDifferentialRun {
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
                keyspace = try txn.defaultKeyspace
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
                let count = try txn.count
                try expect(count == (try keyspace.count()), "\(label): txn.count \(count) differs from defaultKeyspace.count()")
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
                let what = "\(label): seek(to: \(shownHex(target)))"
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
            let range = "scan(from: \(shownHex(from)), to: \(shownHex(to))"
            try compareEntries(Array(try keyspace.scan(from: from, to: to)), forward, "\(label): \(range))")
            try compareEntries(Array(try keyspace.scan(from: from, to: to, reverse: true)), backward, "\(label): \(range), reverse: true)")
            stats.probes += 2
        }
    }

    func compareGet(_ keyspace: Keyspace, _ reference: LMDBTransaction, _ dbi: MDB_dbi, _ key: [UInt8], _ label: String) throws {
        let expected = try reference.get(dbi, key)
        let actual = try keyspace.get(key)
        try expect(sameOptionalBytes(actual, expected), "\(label): get(\(shownHex(key))) = \(describe(actual)), LMDB \(describe(expected))")
        switch randomInt(below: 10) {
        case 0:
            let present = try keyspace.contains(key)
            try expect(present == (expected != nil), "\(label): contains(\(shownHex(key))) = \(present), LMDB \(expected != nil)")
        case 1:
            let copied = try keyspace.withValue(for: key) { Array($0) }
            try expect(sameOptionalBytes(copied, expected), "\(label): withValue(for: \(shownHex(key))) = \(describe(copied)), LMDB \(describe(expected))")
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

func shownHex(_ bytes: [UInt8]?) -> String {
    guard let bytes else { return "nil" }
    let shown = bytes.prefix(40).map { String(format: "%02x", $0) }.joined()
    return "0x" + shown + (bytes.count > 40 ? "…(\(bytes.count) bytes)" : "")
}

private func describe(_ value: [UInt8]?) -> String {
    guard let value else { return "nil" }
    return "\(value.count) bytes \(shownHex(Array(value.prefix(12))))"
}

private func describe(_ entry: LMDBEntry?) -> String {
    guard let entry else { return "nil" }
    return "(key \(shownHex(entry.key)), value \(describe(entry.value)))"
}
