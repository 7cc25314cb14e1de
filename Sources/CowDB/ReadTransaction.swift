import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

/// Everything a read needs: the map, the commit being read, and a page reader bounded by it.
/// For a packed version, `commit` is the pack commit (which bounds the pages) and `packed`
/// says which version of its history tree is read; its roots are not this version's.
struct ReadSource: @unchecked Sendable {
    let mapping: MappedRegion
    let commit: CommitPoint?
    let pages: PageReader
    /// Keeps the bitmap `pages` tests alive (a compaction may release the store it belongs to).
    let verifiedPages: VerifiedPages
    /// Set when the version read is a packed one.
    var packed: PackedVersion? = nil

    /// The version read (0: the empty database).
    var version: UInt64 { packed?.version ?? commit?.record.version ?? 0 }
    /// Its commit time (ns since 1970; 0 for version 0).
    var timestamp: UInt64 { packed?.timestamp ?? commit?.record.timestamp ?? 0 }
}

/// A version kept in the packed history tree (docs/PACKED-HISTORY.md) rather than as trees.
struct PackedVersion: Sendable, Equatable {
    /// Root page of the history tree (0: empty).
    let historyRoot: PageNumber
    /// The version, and its commit time (ns since 1970) and entry count from its index record.
    let version: UInt64
    let timestamp: UInt64
    let totalCount: UInt64
}

/// A consistent view of one committed version. Handed to the closure of `Database.read`;
/// it, and every keyspace, cursor and scan made from it, must not be used after the closure
/// returns (that throws `closed`).
///
/// Keys and values are any `ByteRepresentable` type (`[UInt8]`, `String`, `Data`, …):
///
/// ```swift
/// try db.read { txn in
///     let name = try txn.get("user:1", as: String.self)   // String?
///     let raw = try txn.get(Array("user:1".utf8))          // [UInt8]?, the same entry
/// }
/// ```
public class ReadTransaction {
    /// The version this transaction reads (0 for an empty database).
    public let version: UInt64
    let source: ReadSource
    var pages: PageReader
    var catalog: TreeState
    var defaultTree: TreeState
    /// Named keyspaces looked up (and, when writing, changed) so far, by the UTF-8 bytes of
    /// their names (not by `String`, whose equality treats canonically equivalent spellings,
    /// which are different names on disk, as the same).
    var named: [[UInt8]: TreeState] = [:]
    var isOpen = true
    /// `withValue`/`withEntries` closures running now: while one runs, the transaction must
    /// not change (its bytes may live in a changed node, which a change can move or free).
    var openViews = 0
    /// An error met where a throw was impossible (inside a scan's iterator); rethrown when
    /// the closure returns.
    var pendingError: (any Error)?
    /// A packed version's default keyspace count, once read from the history tree's catalog.
    var packedDefaultCount: UInt64?

    init(source: ReadSource) {
        self.source = source
        version = source.version
        pages = source.pages
        // A packed version's commit is the pack commit: its roots are not this version's.
        let record = source.packed == nil ? source.commit?.record : nil
        catalog = TreeState(rootPage: record?.catalogRoot ?? 0, count: 0)
        catalog.countsEntries = false
        defaultTree = TreeState(rootPage: record?.defaultRoot ?? 0, count: record?.defaultCount ?? 0)
    }

    /// Commit time of this version (nil for version 0).
    public var timestamp: Date? {
        source.version == 0 ? nil : Date(timeIntervalSince1970: Double(source.timestamp) / 1e9)
    }

    /// Whether this transaction may write.
    var isWritable: Bool { false }

    /// Counts changes, so cursors of a write transaction know to re-seek (always 0 when reading).
    var mutationStamp: UInt64 { 0 }

    /// Throws `closed` when the transaction is used after its closure ended.
    @inline(__always)
    func ensureOpen() throws {
        guard isOpen else { throw CowDBError.closed }
    }

    // MARK: Default keyspace

    /// The default (unnamed) keyspace.
    public var defaultKeyspace: Keyspace {
        get throws {
            try ensureOpen()
            return Keyspace(transaction: self, name: nil)
        }
    }

    // The point reads are `final` and `@inlinable`, so that a caller's call specializes for its
    // key type (a class method would be called through the vtable, unspecialized).

    /// The value stored under `key` in the default keyspace, or nil.
    @inlinable
    public final func get<Key: ByteRepresentable>(_ key: Key) throws -> [UInt8]? {
        try key.withBytes { try get($0, in: nil) }
    }

    /// The value stored under `key` in the default keyspace decoded as `type`, or nil; throws
    /// `typeMismatch` when the stored bytes are not a `type` (`try txn.get("k", as: String.self)`).
    @inlinable
    public final func get<Key: ByteRepresentable, Value: ByteRepresentable>(_ key: Key, as type: Value.Type) throws -> Value? {
        try key.withBytes { key in try withValue(for: key, in: nil) { try Value(bytes: $0) } }
    }

    /// Calls `body` with the bytes of the value under `key` without copying them (they point
    /// into the map, or into the write transaction's changed node, and are valid only inside
    /// `body`); nil when the key is absent. `body` must not change the transaction (that
    /// throws `busy`).
    @inlinable
    public final func withValue<Key: ByteRepresentable, R>(for key: Key, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try key.withBytes { try withValue(for: $0, in: nil, body) }
    }

    /// Whether `key` is present in the default keyspace.
    @inlinable
    public final func contains<Key: ByteRepresentable>(_ key: Key) throws -> Bool {
        try key.withBytes { try contains($0, in: nil) }
    }

    /// Entries in `[from, to)` of the default keyspace (either bound optional), ascending or
    /// descending. The bounds may be of different types: `scan(from: "a", to: Data([0x62]))`;
    /// leave a bound out for none (a literal `nil` has no type to infer: `[UInt8]?.none`).
    public func scan<From: ByteRepresentable, To: ByteRepresentable>(from: From? = [UInt8]?.none, to: To? = [UInt8]?.none,
                                                                   reverse: Bool = false) throws -> ScanSequence {
        try scan(in: nil, from: from.map(byteArray), to: to.map(byteArray), reverse: reverse)
    }

    /// A cursor over the default keyspace, not yet positioned.
    public func cursor() throws -> Cursor { try cursor(in: nil) }

    /// Entries in the default keyspace (a packed version's count is read from the file, so a
    /// damaged one throws).
    public var count: UInt64 {
        get throws {
            try ensureOpen()
            return try tree(nil).count
        }
    }

    // MARK: Keyspaces

    /// An existing named keyspace; throws `keyspaceNotFound`.
    public func keyspace(_ name: String) throws -> Keyspace {
        try ensureOpen()
        _ = try tree(name)
        return Keyspace(transaction: self, name: name)
    }

    /// Names of the named keyspaces, in byte order.
    public func keyspaces() throws -> [String] {
        try ensureOpen()
        if source.packed != nil { return try packedKeyspaces() }
        var cursor = TreeCursor(root: catalog.root, pages: pages)
        var names: [String] = []
        var previous: [UInt8]?
        var more = try cursor.first()
        while more {
            let name = try cursor.keyArray()
            if let previous, compareBytes(previous, name) >= 0 {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "catalog names out of order")
            }
            previous = name
            guard let text = String(validating: name, as: UTF8.self) else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "catalog holds a keyspace name that is not UTF-8")
            }
            names.append(text)
            more = try cursor.next()
        }
        return names
    }

    // MARK: Internals shared with Keyspace, Cursor and WriteTransaction

    /// The tree of keyspace `name` (nil: the default keyspace).
    func tree(_ name: String?) throws -> TreeState {
        guard let name else { return source.packed == nil ? defaultTree : try packedDefaultTree() }
        if let tree = named[Array(name.utf8)] { return tree }
        let tree = try catalogEntry(name)
        named[Array(name.utf8)] = tree
        return tree
    }

    /// Reads keyspace `name`'s root and count from the catalog.
    func catalogEntry(_ name: String) throws -> TreeState {
        if source.packed != nil { return try packedCatalogEntry(name) }
        let key = Array(name.utf8)
        guard !key.isEmpty, key.count <= 255,
              let found = try key.withUnsafeBytes({ try BTree.find(catalog.root, key: $0, pages: pages) })
        else { throw CowDBError.keyspaceNotFound(name) }
        let value = try CatalogValue.read(found, keyspace: name, pages: pages)
        return TreeState(rootPage: value.root, count: value.count)
    }

    /// The bytes of the value under `key` in the committed default tree this read transaction
    /// reads (a view into the map, valid until the transaction ends), or nil when absent.
    /// The hot path of `get`, `withValue` and `contains` on a read transaction: it reads through
    /// constants (`source`), without the exclusivity checks and reference counting of the
    /// mutable `pages` and `defaultTree`, and is not generic, so it is compiled once, specialized.
    /// Only for a transaction that is not writable (whose default tree may hold changed nodes).
    final func committedValue(for key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        try ensureOpen()
        let pages = source.pages
        try Keyspace.validate(keyLength: key.count, layout: pages.layout)
        if source.packed != nil { return try packedValue(for: key) }
        guard let root = source.commit?.record.defaultRoot, root != 0 else { return nil }
        guard let (value, leaf) = try BTree.findStored(rootPage: root, key: key, pages: pages) else { return nil }
        switch value {
        case let .inline(bytes): return bytes
        case let .overflow(page, length): return try pages.overflowValue(page: page, length: length, below: leaf)
        }
    }

    /// Finds `key` in keyspace `name`.
    func find(_ key: UnsafeRawBufferPointer, in name: String?) throws -> FoundValue? {
        try ensureOpen()
        try Keyspace.validate(keyLength: key.count, layout: pages.layout)
        if source.packed != nil { return try packedFind(key, in: name) }
        let tree = try tree(name)
        if case let .page(root)? = tree.root {
            guard let (value, leaf) = try BTree.findStored(rootPage: root, key: key, pages: pages) else { return nil }
            return .stored(value, leafPage: leaf)
        }
        return try BTree.find(tree.root, key: key, pages: pages)
    }

    /// Whether `key` is present in keyspace `name`.
    @usableFromInline
    final func contains(_ key: UnsafeRawBufferPointer, in name: String?) throws -> Bool {
        if name == nil, !isWritable { return try committedValue(for: key) != nil }
        return try find(key, in: name) != nil
    }

    /// The value under `key` in keyspace `name`, copied.
    @usableFromInline
    final func get(_ key: UnsafeRawBufferPointer, in name: String?) throws -> [UInt8]? {
        if name == nil, !isWritable { return try committedValue(for: key).map { Array($0) } }
        guard let found = try find(key, in: name) else { return nil }
        return try BTree.withBytes(of: found, pages: pages) { Array($0) }
    }

    /// Calls `body` with the bytes of the value under `key` in keyspace `name` (nil: absent).
    @usableFromInline
    final func withValue<R>(for key: UnsafeRawBufferPointer, in name: String?, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        if name == nil, !isWritable {
            guard let bytes = try committedValue(for: key) else { return nil }
            return try body(bytes)
        }
        guard let found = try find(key, in: name) else { return nil }
        openViews += 1
        defer { openViews -= 1 }
        return try BTree.withBytes(of: found, pages: pages, body)
    }

    func scan(in name: String?, from: [UInt8]?, to: [UInt8]?, reverse: Bool) throws -> ScanSequence {
        try ensureOpen()
        return ScanSequence(cursor: try cursor(in: name), from: from, to: to, reverse: reverse)
    }

    func cursor(in name: String?) throws -> Cursor {
        try ensureOpen()
        _ = try tree(name)
        return Cursor(transaction: self, name: name)
    }

    /// Ends the transaction: later use throws `closed`.
    func invalidate() { isOpen = false }
}
