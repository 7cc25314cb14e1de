import CowDBFormat
import CowDBStorage
import CowDBTree

// The changes between two versions, whether they are trees or packed (docs/PACKED-HISTORY.md):
// what packing records for each version it packs, and what a diff from a packed version reads.
//
// - Both trees: the diff walk, which skips every subtree the two share.
// - A packed side: the keys the pack's change index names for the versions after `from` up to
//   the pack's first tree version (which the index covers too), plus, when `to` is later, the
//   diff walk from that tree version to `to`; each such key is read at both versions, and
//   reported when the two differ. That costs the changes in between, not the state's size.

/// A key that may differ between two versions: its keyspace (nil: the default) and bytes.
struct CandidateKey: Hashable {
    var keyspace: String?
    var key: [UInt8]

    /// Diff order: the default keyspace first, then named ones by the bytes of their names; keys by bytes.
    static func precedes(_ a: CandidateKey, _ b: CandidateKey) -> Bool {
        if a.keyspace != b.keyspace {
            guard let x = a.keyspace else { return true }
            guard let y = b.keyspace else { return false }
            return compareBytes(Array(x.utf8), Array(y.utf8)) < 0
        }
        return compareBytes(a.key, b.key) < 0
    }
}

extension Database {
    /// Calls `body` with every key whose value differs between versions `from` < `to`, in every
    /// keyspace, and its value at `to` (nil: absent there); the default keyspace first, then the
    /// named ones in byte order of their names, keys in byte order.
    func forEachChange(from: UInt64, to: UInt64,
                       _ body: (String?, UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> Void) throws {
        let (old, new) = try sources(at: from, to)
        guard let packed = old.packed ?? new.packed, let pack = old.commit ?? new.commit else {
            return try diffAllKeyspaces(from: from, to: to) { changes in
                try changes.forEachWithoutCopying { try body($0.keyspace, $0.key, $0.newValue) }
            }
        }
        // The pack's first tree version, whose changes its index holds too.
        let index = try currentGeneration().view().index
        let afterPack = try index.position(of: pack.record.version).flatMap { $0 + 1 < index.count ? try index.record($0 + 1).version : nil }
        var candidates = Set<CandidateKey>()
        try HistoryChangeIndex.forEach(rootPage: packed.historyRoot, pages: old.pages, after: from,
                                       through: min(to, afterPack ?? pack.record.version)) { _, keyspace, key in
            candidates.insert(CandidateKey(keyspace: try Self.keyspaceName(keyspace), key: key))
        }
        if let afterPack, to > afterPack {
            try diffAllKeyspaces(from: afterPack, to: to) { changes in
                try changes.forEachWithoutCopying { candidates.insert(CandidateKey(keyspace: $0.keyspace, key: Array($0.key))) }
            }
        }
        let before = ReadTransaction(source: old), after = ReadTransaction(source: new)
        defer { before.invalidate(); after.invalidate() }
        for candidate in candidates.sorted(by: CandidateKey.precedes) {
            let was = try Self.value(of: candidate, in: before), now = try Self.value(of: candidate, in: after)
            guard was != now else { continue }
            try candidate.key.withUnsafeBytes { key in
                if let now { try now.withUnsafeBytes { try body(candidate.keyspace, key, $0) } } else { try body(candidate.keyspace, key, nil) }
            }
        }
    }

    /// The value of `candidate` in `txn` (nil: absent, or its keyspace is).
    private static func value(of candidate: CandidateKey, in txn: ReadTransaction) throws -> [UInt8]? {
        guard let name = candidate.keyspace else { return try txn.get(candidate.key) }
        do { return try txn.keyspace(name).get(candidate.key) } catch CowDBError.keyspaceNotFound { return nil }
    }

    /// A keyspace name from a history key (empty: the default keyspace); damage throws.
    static func keyspaceName(_ bytes: [UInt8]) throws -> String? {
        guard !bytes.isEmpty else { return nil }
        guard let name = String(validating: bytes, as: UTF8.self) else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "history holds a keyspace name that is not UTF-8")
        }
        return name
    }
}
