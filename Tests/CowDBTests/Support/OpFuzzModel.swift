// The in-memory model the operation fuzzer (OpFuzzRunner) checks the database against: the
// content of every version still readable, the tags, and what an interrupted operation may or
// may not have left (a commit in flight, versions a compaction may have dropped, a tag being
// set or removed). Shared by the libFuzzer target `cowdb-fuzz-ops` and by OpFuzzTests.

import Foundation

/// What the database must hold, version by version.
struct OpModel {
    typealias Entries = [[UInt8]: [UInt8]]

    /// One version: every keyspace ("" is the default keyspace) and its entries, as the crash
    /// harness models them.
    typealias State = ModelState

    /// Every version that must be readable (0, the empty database, always is).
    var versions: [UInt64: State] = [0: State()]
    /// The latest acknowledged version.
    var latest: UInt64 = 0
    /// The last version known durable (everything, with `.full` durability).
    var durable: UInt64 = 0
    /// The tags, name to version.
    var tags: [String: UInt64] = [:]

    /// The state the commit in flight would make, when one was interrupted.
    var inFlight: State?
    /// Versions an interrupted or failed compaction may have dropped.
    var mayBeDropped: Set<UInt64> = []
    /// A tag change that was interrupted: the name and its value if it went through (nil: removed).
    var tagInFlight: (name: String, version: UInt64?)?

    /// The latest state.
    var current: State { versions[latest]! }

    /// Records an acknowledged commit of `state`.
    mutating func commit(_ state: State, durable isDurable: Bool) {
        latest += 1
        versions[latest] = state
        if isDurable { durable = latest }
    }

    /// The versions a compaction with `policy` keeps, from the acknowledged ones (the latest
    /// always); `since` is the verdict of `keepSince` (all, or none but the latest).
    func kept(keepLast: Int?, keepSince: Bool?, keepTags: Bool, keepAll: Bool, keepVersions: Set<UInt64>) -> Set<UInt64> {
        let committed = versions.keys.filter { $0 != 0 }.sorted()
        guard !committed.isEmpty else { return [] }
        if keepAll || keepSince == true { return Set(committed) }
        var kept: Set<UInt64> = [committed.last!]
        if let keepLast { kept.formUnion(committed.suffix(max(0, keepLast))) }
        if keepTags { kept.formUnion(tags.values.filter { committed.contains($0) }) }
        kept.formUnion(keepVersions.filter { committed.contains($0) })
        return kept
    }

    /// Drops every committed version outside `kept` (version 0 stays).
    mutating func drop(keeping kept: Set<UInt64>) {
        for version in versions.keys where version != 0 && !kept.contains(version) { versions[version] = nil }
    }

    // MARK: Expected reads

    /// The entries of `space` at `state` between `from` and `to` (inclusive, as scans bound
    /// them), in key order or reversed.
    static func range(_ entries: Entries, from: [UInt8]?, to: [UInt8]?, reverse: Bool) -> [(key: [UInt8], value: [UInt8])] {
        let sorted = entries.sorted { $0.key.lexicographicallyPrecedes($1.key) }.filter { entry in
            if let from, entry.key.lexicographicallyPrecedes(from) { return false }
            if let to, to.lexicographicallyPrecedes(entry.key) { return false }
            return true
        }.map { (key: $0.key, value: $0.value) }
        return reverse ? sorted.reversed() : sorted
    }

    /// One difference between two versions, as `DiffEntry` reports it.
    struct Change: Equatable {
        var space: String
        var key: [UInt8]
        var old: [UInt8]?
        var new: [UInt8]?
    }

    /// The differences between two states: of one keyspace (a keyspace missing in a state is
    /// empty there), or of all keyspaces (the default first, then the named in byte order).
    static func diff(_ old: State, _ new: State, space: String?) -> [Change] {
        let spaces: [String]
        if let space {
            spaces = [space]
        } else {
            let named = Set(old.spaces.keys).union(new.spaces.keys).subtracting([""])
            spaces = [""] + named.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        }
        var changes: [Change] = []
        for space in spaces {
            let before = old.spaces[space] ?? [:], after = new.spaces[space] ?? [:]
            let keys = Set(before.keys).union(after.keys).sorted { $0.lexicographicallyPrecedes($1) }
            for key in keys where before[key] != after[key] {
                changes.append(Change(space: space, key: key, old: before[key], new: after[key]))
            }
        }
        return changes
    }

    /// What differs between two states, for a message.
    static func difference(_ got: State, _ expected: State) -> String { ModelState.difference(got, expected) }
}
