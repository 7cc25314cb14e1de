import CowDBFormat
import CowDBStorage
import CowDBTree

// The changes between two versions when one of them is packed (docs/PACKED-HISTORY.md): what
// `diff` returns then, and what packing records for each version it packs again.
//
// Between two trees, the diff walk skips every subtree they share. A packed version has no
// tree; instead the pack's change index names the keys each packed version changed, and the
// keys the pack's first tree version changed. So the keys that can differ between a packed
// version and any later one are those the index names for the versions in between (up to
// that first tree version), plus those the diff walk from that tree version finds when the
// later version is later still. Each is read at both versions and reported when the two
// differ: the cost follows the changes in between, not the state's size.

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
    /// Calls `body` with every key whose value differs between the versions `old` and `new`
    /// read (sources of one view), in every keyspace, and its value in `new` (nil: absent there); the default keyspace first,
    /// then the named ones in byte order of their names, keys in byte order.
    func forEachChange(_ old: ReadSource, _ new: ReadSource, in view: (Generation, GenerationView),
                       _ body: (String?, UnsafeRawBufferPointer, UnsafeRawBufferPointer?) throws -> Void) throws {
        guard let listed = try packedDiff(old, new, scope: .all, in: view) else {
            return try run(try DiffWalk(old: old, new: new, scope: .all)) { changes in
                try changes.forEachWithoutCopying { try body($0.keyspace, $0.key, $0.newValue) }
            }
        }
        for entry in listed {
            try entry.key.withUnsafeBytes { key in
                guard let value = entry.newValue else { return try body(entry.keyspace, key, nil) }
                try value.withUnsafeBytes { try body(entry.keyspace, key, $0) }
            }
        }
    }

    /// The differences from `old` to `new` (sources from one view of one generation) in
    /// `scope`, when either is packed; nil when neither is (the diff walk does those).
    func packedDiff(_ old: ReadSource, _ new: ReadSource, scope: DiffWalk.Scope, in view: (Generation, GenerationView)) throws -> [DiffEntry]? {
        guard let packed = old.packed ?? new.packed, let pack = (old.packed != nil ? old : new).commit else { return nil }
        let (low, high) = (min(old.version, new.version), max(old.version, new.version))
        let before = ReadTransaction(source: old), after = ReadTransaction(source: new)
        defer { before.invalidate(); after.invalidate() }
        // From the empty database (version 0), every key of the other version differs; the
        // change index starts after the pack's first version, whose state is its base.
        let candidates = low == 0 ? try Self.allKeys(of: old.version == 0 ? after : before)
            : try candidateKeys(after: low, through: high, history: packed.historyRoot, pack: pack,
                                pages: (old.packed != nil ? old : new).pages, in: view)
        if case let .one(name?) = scope, try !Self.hasKeyspace(name, before), try !Self.hasKeyspace(name, after) {
            throw CowDBError.keyspaceNotFound(name)
        }
        var entries: [DiffEntry] = []
        for candidate in candidates.sorted(by: CandidateKey.precedes) {
            if case let .one(name) = scope, candidate.keyspace != name { continue }
            let was = try Self.value(of: candidate, in: before), now = try Self.value(of: candidate, in: after)
            if was != now { entries.append(try DiffEntry(keyspace: candidate.keyspace, key: candidate.key, oldValue: was, newValue: now)) }
        }
        return entries
    }

    /// The keys that may differ between versions `low` and `high` (`low` ≤ `high`, at least
    /// `low` packed in `pack`, whose history tree is `history`).
    private func candidateKeys(after low: UInt64, through high: UInt64, history: PageNumber, pack: CommitPoint,
                               pages: PageReader, in view: (Generation, GenerationView)) throws -> Set<CandidateKey> {
        let index = view.1.index
        let afterPack = try index.position(of: pack.record.version).flatMap { $0 + 1 < index.count ? try index.record($0 + 1).version : nil }
        var candidates = Set<CandidateKey>()
        try HistoryChangeIndex.forEach(rootPage: history, pages: pages, after: low, through: min(high, afterPack ?? pack.record.version)) { _, keyspace, key in
            candidates.insert(CandidateKey(keyspace: try Self.keyspaceName(keyspace), key: key))
        }
        if let afterPack, high > afterPack {
            // The tree diff from the pack's first tree version, in the same generation.
            let (treeOld, treeNew) = (try source(at: afterPack, in: view.0, view.1), try source(at: high, in: view.0, view.1))
            try run(try DiffWalk(old: treeOld, new: treeNew, scope: .all)) { changes in
                try changes.forEachWithoutCopying { candidates.insert(CandidateKey(keyspace: $0.keyspace, key: Array($0.key))) }
            }
        }
        return candidates
    }

    /// Every key of every keyspace of the version `txn` reads.
    private static func allKeys(of txn: ReadTransaction) throws -> Set<CandidateKey> {
        var keys = Set<CandidateKey>()
        for name in [nil] + (try txn.keyspaces()).map(Optional.some) {
            try txn.withEntries(in: name, from: nil, to: nil, limit: .max) { key, _ in
                keys.insert(CandidateKey(keyspace: name, key: Array(key)))
                return true
            }
        }
        return keys
    }

    /// Whether `txn`'s version has keyspace `name`.
    private static func hasKeyspace(_ name: String, _ txn: ReadTransaction) throws -> Bool {
        do { _ = try txn.keyspace(name); return true } catch CowDBError.keyspaceNotFound { return false }
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
