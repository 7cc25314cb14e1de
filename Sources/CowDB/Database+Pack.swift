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
        var collector = try source.historyCollector(versions, next: next)
        let defaultCount = collector.counts[[]] ?? 0
        let entries = collector.sorted()
        let wanted = Set(versions)
        let table = try source.versions().filter { wanted.contains($0.version) }
            .map { VersionTable.Entry(version: $0.version, timestamp: $0.timestampNanoseconds, totalCount: $0.entryCount) }
        guard table.count == versions.count, let last = table.last else { throw CowDBError.versionNotFound(versions[0]) }
        var built = BuiltHistory(root: 0, count: 0, pages: 0)
        try commitBuilding(stamp: CommitStamp(carried: (last.version, last.timestamp))) { sink, latest in
            precondition(latest == nil, "CowDB: a pack commit is its file's first")
            built = try Self.buildHistoryTree(entries, into: sink)
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

    /// Builds the history tree of `entries` (strictly increasing composite keys) through
    /// `sink`. An inline value carries its `HistoryValue` marker; a value too large for the
    /// leaf with its marker is written as an overflow run of its bare bytes (no marker: a
    /// tombstone is never large).
    static func buildHistoryTree(_ entries: [HistoryEntry], into sink: any PageSink) throws -> BuiltHistory {
        let builder = TreeBuilder(sink: sink, history: true)
        let layout = sink.layout
        var overflowPages = 0
        for entry in entries {
            try entry.key.withUnsafeBytes { key in
                precondition(builder.follows(key), "CowDB: history entries out of order")
                guard let value = entry.value,
                      LeafPage.entrySize(keyLength: key.count, inlineValueLength: value.count + 1) > builder.maxEntrySize else {
                    let inline = entry.value.map { $0.withUnsafeBytes { HistoryValue.inline($0) } } ?? HistoryValue.inline(nil)
                    return try inline.withUnsafeBytes { try builder.add(key, stored: .inline($0)) }
                }
                let runLength = layout.overflowRunLength(valueLength: value.count)
                let run = try value.withUnsafeBytes { bytes in
                    try sink.append(runLength: runLength) { OverflowPage.encode(value: bytes, runLength: runLength, into: $0) }
                }
                overflowPages += runLength
                try builder.add(key, stored: .overflow(page: run, length: value.count))
            }
        }
        let (root, count) = try builder.finish()
        return BuiltHistory(root: root, count: count, pages: builder.pagesWritten + overflowPages)
    }
}
