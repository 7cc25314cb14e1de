@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

// Test scaffolding, not in the library: a prototype of the packing writer's tree step
// (docs/PACKED-HISTORY.md): the history tree of `historyEntries` built bottom-up (`TreeBuilder`) and committed as an ordinary named keyspace
// of an empty database, one built version made by `Generation.commit` like compaction's.
// No format change: the tree is a keyspace like any other (its keys composite, its values
// `HistoryValue`s), which the checker, `HistoryCursor` and the size measurements can read.
// The packed-history format (pack records, a packed flag in index records, 64 KiB history
// pages) does not exist yet; so the composite keys must fit this database's key limit.

/// What building a history tree wrote.
struct BuiltHistory {
    /// The history tree's root page.
    var root: PageNumber
    /// Pair entries in the tree.
    var count: UInt64
    /// Pages of the tree: leaves, branches and overflow runs (not the catalog's page).
    var pages: Int
}

extension Database {
    /// Commits, into this database, which must be empty, a version whose only content is
    /// keyspace `name` holding the history tree of `entries` (strictly increasing composite keys).
    /// Throws `keyTooLarge` for a composite key longer than this database's key limit.
    func commitHistoryTree(_ entries: [HistoryEntry], asKeyspace name: String) throws -> BuiltHistory {
        try Keyspace.validate(name: name)
        var built = BuiltHistory(root: 0, count: 0, pages: 0)
        try commitBuilding(stamp: .next) { sink, latest in
            guard latest == nil else { throw CowDBError.invalidArgument("a history tree is built into an empty database") }
            built = try Self.buildHistoryTree(entries, into: sink)
            let catalog = [(name: Array(name.utf8), value: CatalogValue(root: built.root, count: built.count))]
            return CommitRoots(catalogRoot: try Self.buildCatalog(catalog, into: sink), defaultRoot: 0, defaultCount: 0,
                               totalCount: built.count)
        }
        return built
    }

    /// Builds the history tree of `entries` through `sink`. An inline value carries its
    /// `HistoryValue` marker; a value too large for the leaf with its marker is written as an
    /// overflow run of its bare bytes (no marker: a tombstone is never large).
    static func buildHistoryTree(_ entries: [HistoryEntry], into sink: any PageSink) throws -> BuiltHistory {
        let builder = TreeBuilder(sink: sink)
        let layout = sink.layout
        var overflowPages = 0
        for entry in entries {
            guard entry.key.count <= layout.maxKeySize else {
                throw CowDBError.keyTooLarge(size: entry.key.count, maximum: layout.maxKeySize)
            }
            try entry.key.withUnsafeBytes { key in
                precondition(builder.follows(key), "CowDB: history entries out of order")
                guard let value = entry.value,
                      !layout.valueIsInline(keyLength: key.count, valueLength: value.count + 1) else {
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
