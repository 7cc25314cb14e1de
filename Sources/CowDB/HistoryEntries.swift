import CowDBFormat
import CowDBStorage
import CowDBTree

// The entries of a packed history tree (docs/PACKED-HISTORY.md) for a run of kept versions —
// the packing writer's first step:
//
// - the base (the oldest version packed): one pair entry per (keyspace, key) of its whole
//   state, stamped with its version (the default keyspace is the empty name), and one
//   catalog entry per keyspace, the default one included, holding its count;
// - each later version v: one pair entry per key changed since the version before (the new
//   value, or a tombstone for a removal) and one change-index entry per such key; a catalog
//   entry per keyspace created, dropped (a tombstone) or whose count changed. A keyspace
//   dropped between two versions shows all its keys as removed, one created as added;
// - the first version kept as a tree after the pack (if any): change-index entries only, so
//   that a diff from a packed version to a later tree finds every key that may differ.
//
// Every value is a `HistoryValue` (a catalog entry's is the count, BE64; a change-index
// entry's is empty). The changes are held and sorted in memory (about 250 bytes per change);
// the packing writer leaves the base's pairs out (`basePairs: false`) and streams them from the
// version instead. The sort within a budget, merging sorted runs, is left for later.

/// One entry of a history tree: a composite key (`HistoryKey`) and its value (nil: a tombstone).
struct HistoryEntry {
    var key: [UInt8]
    var value: [UInt8]?
}

/// The entries of a history tree being collected.
struct HistoryCollector {
    private(set) var entries: [HistoryEntry] = []
    private var scratch: [UInt8] = []
    /// Each keyspace's count at the version whose catalog entries were added last (by the
    /// bytes of its name; empty: the default keyspace).
    private(set) var counts: [[UInt8]: UInt64] = [:]

    /// Adds the whole state of the version `txn` reads, stamped `version`.
    mutating func addBase(_ txn: ReadTransaction, version: UInt64) throws {
        for name in [nil] + (try txn.keyspaces()).map(Optional.some) {
            try txn.withEntries(in: name, from: nil, to: nil, limit: .max) { key, value in
                addPair(keyspace: name, key: key, version: version, value: value)
                return true
            }
        }
        try addCatalog(txn, version: version)
    }

    /// Adds `key`'s change at `version` in keyspace `name` (nil: the default): with `pair`,
    /// its pair entry (`value`, nil: removed); and its change-index entry.
    mutating func addChange(keyspace name: String?, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?,
                            version: UInt64, pair: Bool) {
        if pair { addPair(keyspace: name, key: key, version: version, value: value) }
        Array((name ?? "").utf8).withUnsafeBytes { HistoryKey.change(version: version, keyspace: $0, key: key, into: &scratch) }
        entries.append(HistoryEntry(key: scratch, value: []))
    }

    /// Adds the catalog entries of the version `txn` reads (`version`): every keyspace whose
    /// presence or count differs from the version added before (all of them for the base).
    mutating func addCatalog(_ txn: ReadTransaction, version: UInt64) throws {
        let now = try Self.counts(of: txn)
        for (name, count) in now where counts[name] != count {
            var bytes = [UInt8](repeating: 0, count: 8)
            bytes.withUnsafeMutableBytes { $0.storeBytes(of: count.bigEndian, as: UInt64.self) }
            appendCatalog(name, version: version, value: bytes)
        }
        for name in counts.keys where now[name] == nil { appendCatalog(name, version: version, value: nil) }
        counts = now
    }

    /// Takes the keyspace counts of the version `txn` reads as the ones to compare with,
    /// adding no entry (its catalog entries are in the history already).
    mutating func takeCounts(_ txn: ReadTransaction) throws {
        counts = try Self.counts(of: txn)
    }

    /// Each keyspace's count in the version `txn` reads (by the bytes of its name; empty: the default).
    private static func counts(of txn: ReadTransaction) throws -> [[UInt8]: UInt64] {
        var counts: [[UInt8]: UInt64] = [[]: try txn.count]
        for name in try txn.keyspaces() { counts[Array(name.utf8)] = try txn.keyspace(name).count() }
        return counts
    }

    /// The entries in strictly increasing key order (the collector is spent).
    mutating func sorted() -> [HistoryEntry] {
        entries.sort { compareBytes($0.key, $1.key) < 0 }
        return entries
    }

    /// Appends the pair entry of `key` in keyspace `name` at `version`.
    private mutating func addPair(keyspace name: String?, key: UnsafeRawBufferPointer, version: UInt64, value: UnsafeRawBufferPointer?) {
        Array((name ?? "").utf8).withUnsafeBytes { HistoryKey.pair(keyspace: $0, key: key, version: version, into: &scratch) }
        entries.append(HistoryEntry(key: scratch, value: value.map { Array($0) }))
    }

    /// Appends keyspace `name`'s catalog entry at `version` (value nil: dropped).
    private mutating func appendCatalog(_ name: [UInt8], version: UInt64, value: [UInt8]?) {
        name.withUnsafeBytes { HistoryKey.catalog(keyspace: $0, version: version, into: &scratch) }
        entries.append(HistoryEntry(key: scratch, value: value))
    }
}

extension Database {
    /// The entries of the history tree of versions `first ... last` (both must exist), in
    /// strictly increasing key order. Versions dropped from the file between them are
    /// skipped (their changes are folded into the next kept version's).
    func historyEntries(from first: UInt64, through last: UInt64) throws -> [HistoryEntry] {
        guard first <= last else { throw CowDBError.invalidArgument("history from version \(first) through \(last)") }
        let kept = try versions().map(\.version)
        for version in [first, last] where !kept.contains(version) { throw CowDBError.versionNotFound(version) }
        var collector = try historyCollector(kept.filter { $0 >= first && $0 <= last }, next: nil)
        return collector.sorted()
    }

    /// Collects the history of `versions` (kept versions, oldest first, at least one) and the
    /// change-index entries of `next` (the first version after them kept as a tree, if any).
    /// With `basePairs` false the pair entries of the oldest version's state are left out (the
    /// packing writer streams them from the version itself instead of holding them): its
    /// catalog entries and every later change are collected.
    func historyCollector(_ versions: [UInt64], next: UInt64?, basePairs: Bool = true) throws -> HistoryCollector {
        var collector = HistoryCollector()
        try read(at: versions[0]) { txn in
            if basePairs { try collector.addBase(txn, version: versions[0]) } else { try collector.addCatalog(txn, version: versions[0]) }
        }
        try collect(Array(versions.dropFirst()), after: versions[0], next: next, into: &collector)
        return collector
    }

    /// Collects the history of `versions` after `previous`, whose own history is packed
    /// already (no base state: only the changes from it on), and the change-index entries of `next`.
    func historyCollector(continuing previous: UInt64, with versions: [UInt64], next: UInt64?) throws -> HistoryCollector {
        var collector = HistoryCollector()
        try read(at: previous) { txn in try collector.takeCounts(txn) }
        try collect(versions, after: previous, next: next, into: &collector)
        return collector
    }

    /// Adds the changes of each of `versions` (and the change-index entries of `next`), each
    /// against the version before, starting after `previous`.
    private func collect(_ versions: [UInt64], after previous: UInt64, next: UInt64?, into collector: inout HistoryCollector) throws {
        var previous = previous
        for version in versions + (next.map { [$0] } ?? []) {
            let pair = version != next
            let (old, new, view) = try sourcesAndView(at: previous, version)
            try forEachChange(old, new, in: view) { name, key, value in
                collector.addChange(keyspace: name, key: key, value: value, version: version, pair: pair)
            }
            // Counts live in the catalog and the commit record: when neither changed (an
            // overwrite), no keyspace was created, dropped, or changed its count.
            if pair, old.packed != nil || new.packed != nil || old.commit?.record.catalogRoot != new.commit?.record.catalogRoot
                || old.commit?.record.defaultCount != new.commit?.record.defaultCount {
                let txn = ReadTransaction(source: new)
                defer { txn.invalidate() }
                try collector.addCatalog(txn, version: version)
            }
            previous = version
        }
    }
}
