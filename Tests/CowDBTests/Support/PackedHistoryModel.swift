import CowDBTestSupport
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

// A seeded random history kept as a model (every version's keyspaces and pairs), and the
// packed history tree it makes (FORMAT.md, "Packed history tree"): pair
// entries for the base version's whole state and each later version's changes (a tombstone
// per removed key, a dropped keyspace's keys included), catalog entries for every keyspace
// (the default one, the empty name, included) at the base version and wherever it was
// created, dropped or changed its count. The packed-read tests read it back at every version.

/// Every version of a random history of keyspaces ("" is the default keyspace).
struct PackedHistoryModel {
    typealias State = [String: [[UInt8]: [UInt8]]]

    /// Named keyspaces that come and go ("a" is a prefix of "ab": their escaped names must
    /// still sort apart).
    static let names = ["a", "ab", "é"]
    /// `states[i]` is version `i + 1`'s (the base version is 1).
    private(set) var states: [State] = []
    /// The keys the history uses, and others it never does (probes of absent keys).
    let keyPool: [[UInt8]]

    /// A history of 30–80 versions from `random`; `maxKey` is the database's key limit (one
    /// key of exactly that length is in the pool).
    init(random: inout SeededGenerator, maxKey: Int) {
        var pool = Set<[UInt8]>()
        let alphabet: [UInt8] = [0x00, 0xFF, 0x01, 0xFE, 0x61]
        let lengths = [1, 2, 7, 8, 8, 9, 15, 16, 16, 17, 24]
        while pool.count < 48 {
            let length = lengths.randomElement(using: &random)!
            pool.insert((0 ..< length).map { _ in alphabet.randomElement(using: &random)! })
        }
        pool.insert([UInt8](repeating: 0xFF, count: maxKey))
        keyPool = pool.sorted { compareBytes($0, $1) < 0 }
        var state: State = ["": [:]]
        for index in 0 ..< Int.random(in: 30 ... 80, using: &random) {
            // Versions 4 and 8 toggle the first name: whatever else happens, one keyspace is dropped.
            change(&state, &random, toggling: index == 3 || index == 7 ? Self.names[0] : nil)
            states.append(state)
        }
    }

    /// The last version.
    var lastVersion: UInt64 { UInt64(states.count) }

    /// The state of `version` (1 ... lastVersion).
    func state(at version: UInt64) -> State { states[Int(version) - 1] }

    /// One version's changes: now and then a named keyspace created or dropped, then 1–6 puts,
    /// overwrites and deletes (one value in seven too large for a leaf: an overflow run).
    private func change(_ state: inout State, _ random: inout SeededGenerator, toggling forced: String?) {
        if let name = forced ?? (Int.random(in: 0 ..< 5, using: &random) == 0 ? Self.names.randomElement(using: &random)! : nil) {
            state[name] = state[name] == nil ? [:] : nil
        }
        for _ in 0 ..< Int.random(in: 1 ... 6, using: &random) {
            let name = state.keys.sorted().randomElement(using: &random)!
            let key = Int.random(in: 0 ..< 12, using: &random) == 0 ? keyPool.last! : keyPool.randomElement(using: &random)!
            if Int.random(in: 0 ..< 4, using: &random) == 0 {
                state[name]![key] = nil
            } else {
                let large = Int.random(in: 0 ..< 7, using: &random) == 0
                state[name]![key] = random.bytes(large ? Int.random(in: 1800 ... 9000, using: &random) : Int.random(in: 0 ... 40, using: &random))
            }
        }
    }

    // MARK: The history tree's entries

    /// The pair and catalog entries of the history tree of every version, sorted by key.
    func entries() -> [HistoryEntry] {
        var entries: [HistoryEntry] = []
        var previous: State = [:]
        for (index, state) in states.enumerated() {
            let version = UInt64(index + 1)
            for name in Set(previous.keys).union(state.keys) {
                let (old, new) = (previous[name], state[name])
                appendPairs(&entries, name, old ?? [:], new ?? [:], version)
                if old == nil || new == nil || old!.count != new!.count {
                    var key: [UInt8] = []
                    Array(name.utf8).withUnsafeBytes { HistoryKey.catalog(keyspace: $0, version: version, into: &key) }
                    entries.append(HistoryEntry(key: key, value: new.map { Self.bigEndian(UInt64($0.count)) }))
                }
            }
            previous = state
        }
        return entries.sorted { compareBytes($0.key, $1.key) < 0 }
    }

    /// The pair entries of keyspace `name` at `version`: a put per key whose value changed,
    /// a tombstone per key removed.
    private func appendPairs(_ entries: inout [HistoryEntry], _ name: String, _ old: [[UInt8]: [UInt8]],
                             _ new: [[UInt8]: [UInt8]], _ version: UInt64) {
        for key in Set(old.keys).union(new.keys) where old[key] != new[key] {
            var composite: [UInt8] = []
            Array(name.utf8).withUnsafeBytes { ks in
                key.withUnsafeBytes { HistoryKey.pair(keyspace: ks, key: $0, version: version, into: &composite) }
            }
            entries.append(HistoryEntry(key: composite, value: new[key]))
        }
    }

    /// A count as the catalog stores it: BE64.
    static func bigEndian(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
}

extension Database {
    /// Commits, into this empty database, a version whose pages hold the packed history tree
    /// of `entries` (strictly increasing keys), built bottom-up with the history tree's limits
    /// (`TreeBuilder(history: true)`); its own roots are empty, as a pack commit's default
    /// root is. Returns the history tree's root, which a `PackedVersion` of this commit names.
    func commitPackedHistory(_ entries: [HistoryEntry]) throws -> PageNumber {
        var root: PageNumber = 0
        try commitBuilding(stamp: .next) { sink, latest in
            guard latest == nil else { throw CowDBError.invalidArgument("a packed history is built into an empty database") }
            let builder = TreeBuilder(sink: sink, history: true)
            for entry in entries { try Self.addPacked(entry, to: builder, sink: sink) }
            root = try builder.finish().root
            return CommitRoots(catalogRoot: 0, defaultRoot: 0, defaultCount: 0, totalCount: 0)
        }
        return root
    }

    /// Adds one history entry: its value with the `HistoryValue` marker when that fits a
    /// history leaf entry (half a page), else an overflow run of its bare bytes.
    private static func addPacked(_ entry: HistoryEntry, to builder: TreeBuilder, sink: any PageSink) throws {
        let layout = sink.layout
        try entry.key.withUnsafeBytes { key in
            guard let value = entry.value,
                  LeafPage.entrySize(keyLength: key.count, inlineValueLength: value.count + 1) > layout.historyMaxEntrySize else {
                let inline = entry.value.map { $0.withUnsafeBytes { HistoryValue.inline($0) } } ?? HistoryValue.inline(nil)
                return try inline.withUnsafeBytes { try builder.add(key, stored: .inline($0)) }
            }
            let runLength = layout.overflowRunLength(valueLength: value.count)
            let run = try value.withUnsafeBytes { bytes in
                try sink.append(runLength: runLength) { OverflowPage.encode(value: bytes, runLength: runLength, into: $0) }
            }
            try builder.add(key, stored: .overflow(page: run, length: value.count))
        }
    }

    /// The source of the packed `version` of the history tree at `root`, committed as this
    /// database's latest commit (which bounds its pages, as a pack commit does).
    func packedSource(root: PageNumber, version: UInt64, totalCount: UInt64) throws -> ReadSource {
        var source = try currentSource()
        source.packed = PackedVersion(historyRoot: root, version: version, timestamp: 1_000_000_000 * version, totalCount: totalCount)
        return source
    }

    /// A snapshot of `source` (counted as open, as `snapshot(at:)` counts one).
    func snapshot(of source: ReadSource) -> Snapshot {
        state.withLock { $0.snapshots += 1 }
        return Snapshot(database: self, source: source)
    }
}

extension Database {
    /// Commits, into this empty database, a version whose pages are whatever `build` appends
    /// through the sink (a damaged history tree, say); returns the root `build` names.
    func commitRawHistory(_ build: (any PageSink) throws -> PageNumber) throws -> PageNumber {
        var root: PageNumber = 0
        try commitBuilding(stamp: .next) { sink, _ in
            root = try build(sink)
            return CommitRoots(catalogRoot: 0, defaultRoot: 0, defaultCount: 0, totalCount: 0)
        }
        return root
    }
}
