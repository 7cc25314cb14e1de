@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

// Test scaffolding, not in the library: a prototype of the packing writer's tree step
// (docs/PACKED-HISTORY.md): the history tree of `historyEntries` built bottom-up (`TreeBuilder`) and committed as an ordinary named keyspace
// of an empty database, one built version made by `Generation.commit` like compaction's.
// The tree is a keyspace like any other (its keys composite, its values `HistoryValue`s),
// which `HistoryCursor` and the size measurements can read; its entries follow the history
// tree's limits (half a page), so a keyspace holding long composite keys does not pass `check`.
// Packing itself writes the tree into a pack commit (`Database.commitPack`).

extension Database {
    /// Commits, into this database, which must be empty, a version whose only content is
    /// keyspace `name` holding the history tree of `entries` (strictly increasing composite keys).
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
}
