import CowDBFormat
import CowDBStorage
import CowDBTree

// The entries of a packed history tree (docs/PACKED-HISTORY.md) for a run of versions
// `first ... last` of a database — the packing writer's step 1, as a prototype that writes
// nothing to disk by itself:
//
// - the base version `first`: one pair entry per (keyspace, key) of its whole state, stamped
//   `first` (the default keyspace is the empty name);
// - each later version v: one pair entry per key the commit changed, stamped v — the new
//   value, or a tombstone for a removal. The changes come from the diff walk of v against the
//   version before it (`diffAllKeyspaces`), which skips every subtree the two share, so this
//   costs what the commits changed, not the state's size per version. A keyspace dropped
//   between two versions shows all its keys as removed: they get tombstones; one created
//   shows them as added. No catalog (0x02) or change-index (0x03) entries yet: `HistoryCursor`
//   reads pair entries only.
//
// Prototype limits (said so in the design notes): every entry is held and sorted in memory
// (the packing writer will merge sorted runs within a budget); values are copied out of the
// map. Large values stay in scope: `HistoryTreeBuilder` writes them as overflow runs.

/// One entry of a history tree: a composite pair key (`HistoryKey.pair`) and the value the
/// key took at that version (nil: a tombstone, the key removed).
struct HistoryEntry {
    var key: [UInt8]
    var value: [UInt8]?
}

extension Database {
    /// The pair entries of the history tree of versions `first ... last` (both must exist),
    /// in strictly increasing key order: `first`'s whole state, then every later version's
    /// changes. Versions dropped from the file between them are skipped (their changes are
    /// folded into the next kept version's).
    func historyEntries(from first: UInt64, through last: UInt64) throws -> [HistoryEntry] {
        guard first <= last else { throw CowDBError.invalidArgument("history from version \(first) through \(last)") }
        let kept = try versions().map(\.version)
        for version in [first, last] where !kept.contains(version) { throw CowDBError.versionNotFound(version) }
        var entries: [HistoryEntry] = []
        var composite: [UInt8] = []
        try read(at: first) { txn in try Self.appendState(of: txn, version: first, to: &entries, scratch: &composite) }
        var previous = first
        for version in kept where version > first && version <= last {
            try diffAllKeyspaces(from: previous, to: version) { changes in
                try changes.forEachWithoutCopying { change in
                    Self.appendPair(keyspace: change.keyspace, key: change.key, version: version,
                                    value: change.newValue, to: &entries, scratch: &composite)
                }
            }
            previous = version
        }
        // In memory, the prototype's sort; composite keys are distinct (a key changes at most
        // once per version, and every change is stamped after the base).
        entries.sort { compareBytes($0.key, $1.key) < 0 }
        return entries
    }

    /// Appends one pair entry per key of every keyspace of the version `txn` reads.
    private static func appendState(of txn: ReadTransaction, version: UInt64, to entries: inout [HistoryEntry],
                                    scratch: inout [UInt8]) throws {
        for name in [nil] + (try txn.keyspaces()).map(Optional.some) {
            try txn.withEntries(in: name, from: nil, to: nil, limit: .max) { key, value in
                appendPair(keyspace: name, key: key, version: version, value: value, to: &entries, scratch: &scratch)
                return true
            }
        }
    }

    /// Appends the pair entry of `key` in keyspace `name` (nil: the default) at `version`.
    private static func appendPair(keyspace name: String?, key: UnsafeRawBufferPointer, version: UInt64,
                                   value: UnsafeRawBufferPointer?, to entries: inout [HistoryEntry], scratch: inout [UInt8]) {
        Array((name ?? "").utf8).withUnsafeBytes { HistoryKey.pair(keyspace: $0, key: key, version: version, into: &scratch) }
        entries.append(HistoryEntry(key: scratch, value: value.map { Array($0) }))
    }
}
