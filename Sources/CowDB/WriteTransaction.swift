import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

/// A write transaction: everything a `ReadTransaction` offers, plus writes. Handed to the
/// closure of `Database.write`; the changes commit as one new version when the closure
/// returns and are discarded if it throws. Reads see the transaction's own writes.
public final class WriteTransaction: ReadTransaction {
    let appender: PageAppender
    let mutator: TreeMutator
    let budgetPages: Int
    /// Entries in all keyspaces.
    var totalCount: UInt64
    /// Whether anything changed (an unchanged transaction commits no version).
    var hasChanges = false

    init(source: ReadSource, appender: PageAppender, options: DatabaseOptions) throws {
        precondition(source.packed == nil, "CowDB: a write transaction starts from the latest version, never a packed one")
        self.appender = appender
        self.mutator = try TreeMutator(sink: appender)
        self.budgetPages = max(16, options.dirtyPageBudget / appender.layout.pageSize)
        self.totalCount = source.commit?.record.totalCount ?? 0
        super.init(source: source)
        self.pages = mutator.pages
    }

    override var isWritable: Bool { true }
    override var mutationStamp: UInt64 { mutator.mutations }

    // MARK: Default keyspace

    /// Stores `value` under `key` in the default keyspace, replacing any value. Both are any
    /// `ByteRepresentable` type: `try txn.put("user:1", "Ada")`.
    @inlinable
    public func put<Key: ByteRepresentable, Value: ByteRepresentable>(_ key: Key, _ value: Value) throws {
        try key.withBytes { key in try value.withBytes { try put(key, $0, in: nil) } }
    }

    /// Stores `value` under `key` only if absent; returns false (keeping the old value) otherwise.
    @inlinable
    public func insert<Key: ByteRepresentable, Value: ByteRepresentable>(_ key: Key, _ value: Value) throws -> Bool {
        try key.withBytes { key in try value.withBytes { try insert(key, $0, in: nil) } }
    }

    /// Removes `key` from the default keyspace; returns whether it was present.
    @inlinable @discardableResult
    public func delete<Key: ByteRepresentable>(_ key: Key) throws -> Bool {
        try key.withBytes { try delete($0, in: nil) }
    }

    // MARK: Keyspaces

    /// Creates a named keyspace; throws `keyspaceExists` if it exists.
    public func createKeyspace(_ name: String) throws -> Keyspace {
        try ensureOpen()
        try ensureNoViews()
        try Keyspace.validate(name: name)
        if (try? tree(name)) != nil { throw CowDBError.keyspaceExists(name) }
        try changeCatalog { catalog in try putCatalogEntry(&catalog, name: Array(name.utf8), root: 0, count: 0) }
        var tree = TreeState(rootPage: 0, count: 0)
        tree.changed = true
        named[Array(name.utf8)] = tree
        return Keyspace(transaction: self, name: name)
    }

    /// The named keyspace, created when missing.
    public func keyspaceCreatingIfMissing(_ name: String) throws -> Keyspace {
        try ensureOpen()
        try Keyspace.validate(name: name)
        if (try? tree(name)) != nil { return Keyspace(transaction: self, name: name) }
        return try createKeyspace(name)
    }

    /// Removes a named keyspace and all its entries (earlier versions keep them).
    public func dropKeyspace(_ name: String) throws {
        try ensureOpen()
        try ensureNoViews()
        let tree = try tree(name)
        try changeCatalog { catalog in _ = try Array(name.utf8).withUnsafeBytes { try mutator.delete(&catalog, key: $0) } }
        named[Array(name.utf8)] = nil
        totalCount &-= tree.count // wrapping: a damaged count must not trap; check() reports it
    }

    // MARK: Changes

    /// Throws `busy` when a change is attempted inside a `withValue` or `withEntries` closure
    /// of this transaction: the bytes handed to the closure may live in a changed node, which
    /// the change could move or free under them.
    private func ensureNoViews() throws {
        guard openViews == 0 else {
            throw CowDBError.busy("the transaction cannot change inside withValue or withEntries (make the change after the closure)")
        }
    }

    /// Stores `value` under `key` in keyspace `name` (both copied into the tree; also the path
    /// of copies that already have their bytes in a map, such as compaction's).
    @usableFromInline
    final func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, in name: String?) throws {
        try prepareWrite(keyLength: key.count, valueLength: value.count)
        try store(key, value, in: name)
    }

    /// The body of `put`, after `prepareWrite`.
    private func store(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, in name: String?) throws {
        let stored: StoredValue = try storeOverflow(key: key, value: value).map { .overflow(page: $0, length: value.count) } ?? .inline(value)
        try change(name) { tree in
            if try !mutator.put(&tree, key: key, value: stored) { totalCount &+= 1 }
        }
    }

    /// Stores `value` under `key` in keyspace `name` only if absent; returns whether it did.
    @usableFromInline
    final func insert(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, in name: String?) throws -> Bool {
        try prepareWrite(keyLength: key.count, valueLength: value.count)
        if try find(key, in: name) != nil { return false }
        try store(key, value, in: name)
        return true
    }

    /// Removes `key` from keyspace `name`; returns whether it was present.
    @usableFromInline
    final func delete(_ key: UnsafeRawBufferPointer, in name: String?) throws -> Bool {
        try ensureOpen()
        try ensureNoViews()
        try Keyspace.validate(keyLength: key.count, layout: pages.layout)
        try spillIfOverBudget()
        var removed = false
        try change(name) { tree in removed = try mutator.delete(&tree, key: key) }
        if removed { totalCount &-= 1 }
        return removed
    }

    /// Validates a write and keeps the dirty budget.
    private func prepareWrite(keyLength: Int, valueLength: Int) throws {
        try ensureOpen()
        try ensureNoViews()
        try Keyspace.validate(keyLength: keyLength, layout: pages.layout)
        guard valueLength <= PageLayout.maxValueSize else {
            throw CowDBError.valueTooLarge(size: valueLength, maximum: PageLayout.maxValueSize)
        }
        try spillIfOverBudget()
    }

    /// Writes a value too large for its leaf as an overflow run now; returns the run's first
    /// page, or nil when the value stays inline.
    private func storeOverflow(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws -> PageNumber? {
        let layout = pages.layout
        if layout.valueIsInline(keyLength: key.count, valueLength: value.count) { return nil }
        let runLength = layout.overflowRunLength(valueLength: value.count)
        let first = try appender.append(runLength: runLength) { OverflowPage.encode(value: value, runLength: runLength, into: $0) }
        try appender.flush()
        mutator.pages = try appender.reader()
        pages = mutator.pages
        return first
    }

    /// Points the catalog entry of keyspace `name` at `root`.
    private func putCatalogEntry(_ catalog: inout TreeState, name: [UInt8], root: PageNumber, count: UInt64) throws {
        let value = CatalogValue(root: root, count: count).encoded()
        _ = try name.withUnsafeBytes { key in try value.withUnsafeBytes { try mutator.put(&catalog, key: key, value: .inline($0)) } }
    }

    /// Runs `body` on keyspace `name`'s tree and keeps the result.
    private func change(_ name: String?, _ body: (inout TreeState) throws -> Void) throws {
        var tree = try self.tree(name)
        defer {
            if let name { named[Array(name.utf8)] = tree } else { defaultTree = tree }
            if tree.changed { hasChanges = true }
        }
        try body(&tree)
    }

    /// Runs `body` on the catalog tree.
    private func changeCatalog(_ body: (inout TreeState) throws -> Void) throws {
        try spillIfOverBudget()
        hasChanges = true
        try body(&catalog)
    }

    /// Writes finished leaves early when the changed nodes exceed the dirty budget.
    private func spillIfOverBudget() throws {
        guard mutator.dirtyNodes > budgetPages else { return }
        try mutator.spillLeaves(&defaultTree)
        // In name order, as the commit writes them: a dictionary's order changes from one
        // process to the next, and the same writes must give the same file.
        for name in named.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            var tree = named[name]!
            try mutator.spillLeaves(&tree)
            named[name] = tree
        }
        try mutator.didSpill()
        pages = mutator.pages
    }

    // MARK: Commit

    /// A commit compaction writes: the version number and time of the version it carries
    /// over (numbers may skip dropped versions), committed even when nothing changed.
    struct ForcedCommit {
        var version: UInt64
        var timestamp: UInt64
        var rolledBackFrom: UInt64?
    }

    /// Step 1 of a commit (`Generation.commit`), the tree layer's: writes every changed tree
    /// and returns the roots and counts for the commit record. Nothing written here is
    /// reachable until the commit record is durable.
    func writeTrees() throws -> CommitRoots {
        // a. Rebalance and write every changed named keyspace; point the catalog at its new root.
        for name in named.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard var tree = named[name], tree.changed else { continue }
            try mutator.rebalance(&tree)
            let root = try mutator.write(&tree)
            try putCatalogEntry(&catalog, name: name, root: root, count: tree.count)
            tree.changed = false
            named[name] = tree
        }
        // b. The default keyspace.
        try mutator.rebalance(&defaultTree)
        let defaultRoot = try mutator.write(&defaultTree)
        // c. The catalog.
        try mutator.rebalance(&catalog)
        let catalogRoot = try mutator.write(&catalog)
        return CommitRoots(catalogRoot: catalogRoot, defaultRoot: defaultRoot, defaultCount: defaultTree.count, totalCount: totalCount)
    }
}
