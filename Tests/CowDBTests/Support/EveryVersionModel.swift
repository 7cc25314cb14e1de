import CowDB
import CowDBTestSupport

// The model of the packed-history simulation (PackedSimulationTests): every version the
// database still has, each with its whole state, and which of them are packed. Compaction,
// rollback and commits are mirrored here; diffs are computed from two states.

/// Every version's keyspaces and pairs ("" is the default keyspace), and the packed ones.
struct EveryVersionModel {
    typealias State = [String: [[UInt8]: [UInt8]]]

    /// The state of each version the database has.
    private(set) var states: [UInt64: State] = [:]
    /// The versions in the history tree: always a prefix of `versions`.
    private(set) var packed: Set<UInt64> = []

    /// Every version, oldest first.
    var versions: [UInt64] { states.keys.sorted() }
    /// The latest version's number (0 before the first commit).
    var latest: UInt64 { states.keys.max() ?? 0 }
    /// The latest state (the empty database's before the first commit).
    var latestState: State { states[latest] ?? ["": [:]] }

    /// The state of `version`.
    func state(_ version: UInt64) -> State { states[version]! }

    /// Records a new version (a commit or a rollback), never packed.
    mutating func commit(_ version: UInt64, _ state: State) {
        precondition(version > latest, "versions increase")
        states[version] = state
    }

    /// The versions a retention compaction keeps: the newest `keepLast`, `chosen` and the latest.
    func kept(keepLast: Int?, chosen: Set<UInt64>) -> [UInt64] {
        let all = versions
        let newest = keepLast.map { Set(all.suffix($0)) } ?? Set(all)
        return all.filter { newest.contains($0) || chosen.contains($0) || $0 == latest }
    }

    /// Mirrors a compaction keeping `kept` (ascending, the latest last) and packing as
    /// `packing` says: versions packed before stay packed, the newest is never packed.
    mutating func compact(keeping kept: [UInt64], packing: Packing) {
        let keptSet = Set(kept)
        states = states.filter { keptSet.contains($0.key) }
        var before = 0
        while before < kept.count, packed.contains(kept[before]) { before += 1 }
        let count: Int
        switch packing {
        case .none: count = before
        case let .allButNewest(newest): count = max(before, kept.count - max(1, newest))
        }
        packed = Set(kept.prefix(count))
    }

    /// Keyspace names in byte order of their UTF-8 (the order of `keyspaces()` and of diffs).
    static func sortedNames(_ names: some Sequence<String>) -> [String] {
        names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The diff of one keyspace (`name`, "" for the default) from state `old` to `new`: an
    /// absent keyspace counts as empty.
    static func diff(_ name: String, _ old: State, _ new: State) throws -> [DiffEntry] {
        let before = old[name] ?? [:], after = new[name] ?? [:]
        let keys = Set(before.keys).union(after.keys).sorted { $0.lexicographicallyPrecedes($1) }
        return try keys.compactMap { key in
            let (from, to) = (before[key], after[key])
            guard from != to else { return nil }
            return try DiffEntry(keyspace: name.isEmpty ? nil : name, key: key, oldValue: from, newValue: to)
        }
    }

    /// The diff of every keyspace: the default one first, then the named ones in byte order.
    static func diffAll(_ old: State, _ new: State) throws -> [DiffEntry] {
        let named = sortedNames(Set(old.keys).union(new.keys).filter { !$0.isEmpty })
        return try ([""] + named).flatMap { try diff($0, old, new) }
    }
}
