import CowDBFormat
import CowDBStorage
import CowDBTree

// Packing (docs/PACKED-HISTORY.md): compaction's first commit into a new generation can hold
// the versions it keeps but the newest as one history tree — the versions of the pairs in
// key order — instead of one copy-on-write tree each. It is one built commit, made by
// `Generation.commit` like any other (`commitBuilding`): the history tree is written
// bottom-up in large writes (`TreeBuilder`, history mode: pages full to the byte), then the
// version table as one overflow run, then the pack commit naming both. The index gets one
// record per packed version, all naming the pack commit.

/// What building a history tree wrote.
struct BuiltHistory {
    /// The history tree's root page.
    var root: PageNumber
    /// Entries in the tree (pair, catalog and change-index entries).
    var count: UInt64
    /// Pages of the tree: leaves, branches and overflow runs.
    var pages: Int
}

extension Database {
    /// Commits into this database (a compaction's new generation, still empty) the pack
    /// commit of versions `versions` of `source` (kept versions, oldest first, at least one),
    /// with change-index entries for `next` too (the first version kept after them, as a
    /// tree; nil: none).
    @discardableResult
    func commitPack(_ versions: [UInt64], of source: Database, next: UInt64?) throws -> BuiltHistory {
        precondition(!versions.isEmpty, "CowDB: a pack holds at least one version")
        // Versions packed before, when the pack keeps all of them: their entries are copied
        // from the old history tree as they are, and only the later versions are collected.
        // Otherwise the oldest version's state is streamed from it into the tree in key order,
        // so that what is held in memory is the changes, not the state.
        let old = try source.packedPrefix(of: versions)
        var collector = try old.map { try source.historyCollector(continuing: versions[$0.count - 1], with: Array(versions[$0.count...]), next: next) }
            ?? source.historyCollector(versions, next: next, basePairs: false)
        let defaultCount = collector.counts[[]] ?? 0
        let entries = collector.sorted()
        let wanted = Set(versions)
        let table = try source.versions().filter { wanted.contains($0.version) }
            .map { VersionTable.Entry(version: $0.version, timestamp: $0.timestampNanoseconds, totalCount: $0.entryCount) }
        guard table.count == versions.count, let last = table.last else { throw CowDBError.versionNotFound(versions[0]) }
        var built = BuiltHistory(root: 0, count: 0, pages: 0)
        try commitBuilding(stamp: CommitStamp(carried: (last.version, last.timestamp))) { sink, latest in
            precondition(latest == nil, "CowDB: a pack commit is its file's first")
            let writer = HistoryTreeWriter(sink: sink)
            if let old {
                try writer.merge(entries, withTreeAt: old.source, through: versions[old.count - 1])
            } else {
                try source.read(at: versions[0]) { txn in try writer.merge(entries, withStateOf: txn) }
            }
            built = try writer.finish()
            let bytes = VersionTable.encode(table)
            let runLength = sink.layout.overflowRunLength(valueLength: bytes.count)
            let tablePage = try bytes.withUnsafeBytes { bytes in
                try sink.append(runLength: runLength) { OverflowPage.encode(value: bytes, runLength: runLength, into: $0) }
            }
            return CommitRoots(catalogRoot: built.root, defaultRoot: 0, defaultCount: defaultCount, totalCount: last.totalCount,
                               pack: (tablePage, table))
        }
        return built
    }

    /// When this database's packed versions are exactly the first ones of `versions`: how
    /// many, and a source reading the last of them (whose history tree holds them all).
    func packedPrefix(of versions: [UInt64]) throws -> (count: Int, source: ReadSource)? {
        let (generation, view) = try openView()
        var count = 0
        while count < view.index.count, try view.index.record(count).isPacked {
            guard count < versions.count, try view.index.record(count).version == versions[count] else { return nil }
            count += 1
        }
        guard count > 0 else { return nil }
        return (count, try makeSource(generation, record: try view.index.record(count - 1), view))
    }

    /// Builds the history tree of `entries` (strictly increasing composite keys) through `sink`.
    static func buildHistoryTree(_ entries: [HistoryEntry], into sink: any PageSink) throws -> BuiltHistory {
        let writer = HistoryTreeWriter(sink: sink)
        for entry in entries { try writer.add(entry) }
        return try writer.finish()
    }
}

/// Writes a history tree bottom-up from entries in key order: new ones, and ones copied from
/// an older history tree.
final class HistoryTreeWriter {
    private let builder: TreeBuilder
    private let sink: any PageSink
    private var overflowPages = 0

    init(sink: any PageSink) {
        self.sink = sink
        builder = TreeBuilder(sink: sink, history: true)
    }

    /// Adds a new entry. An inline value carries its `HistoryValue` marker; a value too large
    /// for the leaf with its marker is written as an overflow run of its bare bytes (no
    /// marker: a tombstone is never large).
    func add(_ entry: HistoryEntry) throws {
        try entry.key.withUnsafeBytes { key in
            guard builder.follows(key), key.count <= builder.maxKeySize else { // a damaged version read out of order
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "history entry out of order or of \(key.count) bytes: a version packed is damaged")
            }
            guard let value = entry.value,
                  LeafPage.entrySize(keyLength: key.count, inlineValueLength: value.count + 1) > builder.maxEntrySize else {
                let inline = entry.value.map { $0.withUnsafeBytes { HistoryValue.inline($0) } } ?? HistoryValue.inline(nil)
                return try inline.withUnsafeBytes { try builder.add(key, stored: .inline($0)) }
            }
            try value.withUnsafeBytes { try addOverflow(key, $0) }
        }
    }

    /// Merges `entries` with the entries of the history tree `old` reads (its pack's), leaving
    /// out the old change-index entries of versions after `through` (the old pack's first
    /// tree version's: the new entries name the changes after `through` afresh).
    func merge(_ entries: [HistoryEntry], withTreeAt old: ReadSource, through: UInt64) throws {
        var cursor = TreeCursor(root: old.packed.map { $0.historyRoot == 0 ? nil : .page($0.historyRoot) } ?? nil, pages: old.pages)
        var more = try cursor.first()
        var next = 0
        while more || next < entries.count {
            if more, try Self.isStale(cursor, after: through) {
                more = try cursor.next()
                continue
            }
            if more {
                let order = next < entries.count ? try cursor.withKey { key in entries[next].key.withUnsafeBytes { compareBytes(key, $0) } } : -1
                if order < 0 {
                    try copy(cursor, from: old.pages)
                    more = try cursor.next()
                    continue
                }
                if order == 0 { throw CowDBError.corrupt(page: nil, offset: nil, reason: "history entry packed twice") }
            }
            try add(entries[next])
            next += 1
        }
    }

    /// Merges `entries` with the pair entries of the whole state of the version `txn` reads
    /// (stamped with its version), read in key order: the default keyspace, then the named
    /// ones in byte order of their names, as their composite keys sort.
    func merge(_ entries: [HistoryEntry], withStateOf txn: ReadTransaction) throws {
        var next = 0
        var composite: [UInt8] = []
        for name in [nil] + (try txn.keyspaces()).map(Optional.some) {
            let keyspace = Array((name ?? "").utf8)
            try txn.withEntries(in: name, from: nil, to: nil, limit: .max) { key, value in
                keyspace.withUnsafeBytes { HistoryKey.pair(keyspace: $0, key: key, version: txn.version, into: &composite) }
                while next < entries.count, compareBytes(entries[next].key, composite) < 0 {
                    try add(entries[next])
                    next += 1
                }
                try add(HistoryEntry(key: composite, value: Array(value))) // throws `corrupt` if out of order
                return true
            }
        }
        while next < entries.count {
            try add(entries[next])
            next += 1
        }
    }

    /// The tree's root and figures (the writer is spent).
    func finish() throws -> BuiltHistory {
        let (root, count) = try builder.finish()
        return BuiltHistory(root: root, count: count, pages: builder.pagesWritten + overflowPages)
    }

    /// Whether the entry under `cursor` is a change-index entry of a version after `through`.
    private static func isStale(_ cursor: TreeCursor, after through: UInt64) throws -> Bool {
        try cursor.withKey { key in
            guard key.first == HistoryKey.Kind.change.rawValue else { return false }
            return try HistoryKey.decode(key, page: 0).version > through
        }
    }

    /// Copies the entry under `cursor` as it is (an overflow value into a new run).
    private func copy(_ cursor: TreeCursor, from pages: PageReader) throws {
        guard case let .stored(stored, leaf) = try cursor.value() else { return }
        try cursor.withKey { key in
            guard builder.follows(key), key.count <= builder.maxKeySize else {
                throw CowDBError.corruptPage(leaf, "history key out of order or of \(key.count) bytes")
            }
            switch stored {
            case let .inline(bytes):
                guard LeafPage.entrySize(keyLength: key.count, inlineValueLength: bytes.count) <= builder.maxEntrySize else {
                    throw CowDBError.corruptPage(leaf, "history entry larger than a history page allows")
                }
                try builder.add(key, stored: .inline(bytes))
            case let .overflow(page, length):
                try addOverflow(key, try pages.overflowValue(page: page, length: length, below: leaf))
            }
        }
    }

    /// Adds `key` with `value` written as an overflow run.
    private func addOverflow(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        let runLength = sink.layout.overflowRunLength(valueLength: value.count)
        let run = try sink.append(runLength: runLength) { OverflowPage.encode(value: value, runLength: runLength, into: $0) }
        overflowPages += runLength
        try builder.add(key, stored: .overflow(page: run, length: value.count))
    }
}
