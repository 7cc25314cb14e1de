import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

// Diff between two versions: the keys added, removed or changed, in key order, found by
// walking both versions' trees at once and skipping every subtree they share (`TreeDiff`).

/// One key that differs between two versions, with its values copied out of the file.
public struct DiffEntry: Sendable, Equatable, CustomStringConvertible {
    /// How a key differs.
    public enum Change: String, Sendable, Equatable {
        /// Present only in the later (`to`) version.
        case added
        /// Present only in the earlier (`from`) version.
        case removed
        /// Present in both, with different values.
        case changed
    }

    /// The keyspace (nil: the default keyspace).
    public let keyspace: String?
    /// The key.
    public let key: [UInt8]
    /// The value in the `from` version (nil: the key was added).
    public let oldValue: [UInt8]?
    /// The value in the `to` version (nil: the key was removed).
    public let newValue: [UInt8]?

    /// Creates an entry; throws `invalidArgument` unless at least one of the values is present.
    public init(keyspace: String?, key: [UInt8], oldValue: [UInt8]?, newValue: [UInt8]?) throws {
        guard oldValue != nil || newValue != nil else {
            throw CowDBError.invalidArgument("a diff entry needs an old or a new value")
        }
        self.keyspace = keyspace
        self.key = key
        self.oldValue = oldValue
        self.newValue = newValue
    }

    /// Added, removed or changed.
    public var change: Change {
        if oldValue == nil { return .added }
        if newValue == nil { return .removed }
        return .changed
    }

    /// The key decoded as `type` (`typeMismatch` when its bytes are not a `type`).
    public func key<Key: ByteRepresentable>(as type: Key.Type) throws -> Key { try decode(key, as: type) }

    /// The value in the `from` version decoded as `type` (nil: the key was added).
    public func oldValue<Value: ByteRepresentable>(as type: Value.Type) throws -> Value? {
        try oldValue.map { try decode($0, as: type) }
    }

    /// The value in the `to` version decoded as `type` (nil: the key was removed).
    public func newValue<Value: ByteRepresentable>(as type: Value.Type) throws -> Value? {
        try newValue.map { try decode($0, as: type) }
    }

    /// "changed users/[97, 110, 110]": the change, keyspace and key, for debugging.
    public var description: String {
        "\(change.rawValue) \(keyspace.map { "\($0)/" } ?? "")\(key)"
    }
}

extension Database {
    /// Runs `body` with the differences of one keyspace between versions `from` and `to`: every
    /// key added, removed or changed, in key order, produced lazily as `body` iterates.
    ///
    /// ```swift
    /// try db.diff(from: 3, to: 7) { changes in
    ///     for change in changes { print(change.change, change.key, change.oldValue, change.newValue) }
    /// }
    /// ```
    ///
    /// The cost follows what changed, not the size of the database: subtrees the two versions
    /// share (the same page, by copy-on-write the same content) are skipped unread. `from` may
    /// be later than `to` (a reverse diff: what undoing those commits would change). Both
    /// versions stay readable until `body` returns, however many commits happen meanwhile; the
    /// sequence must not be used after that (it throws `closed`; a `for` loop, which cannot
    /// throw, traps). An error met while iterating (a damaged page) ends the iteration and is
    /// rethrown when `body` returns.
    ///
    /// - Parameters:
    ///   - from: the version the changes start from (the old values).
    ///   - to: the version they lead to (the new values).
    ///   - keyspace: a named keyspace (nil: the default one). A keyspace that exists in only
    ///     one of the versions counts as empty in the other; missing in both throws `keyspaceNotFound`.
    ///   - body: receives the differences, a lazy sequence valid only inside it.
    /// - Returns: what `body` returns.
    /// - Throws: `versionNotFound` for a version the database does not have.
    public func diff<T>(from: UInt64, to: UInt64, keyspace: String? = nil, _ body: (DiffSequence) throws -> T) throws -> T {
        let (old, new, view) = try sourcesAndView(at: from, to)
        let walk = try DiffWalk(old: old, new: new, scope: .one(keyspace), listed: try packedDiff(old, new, scope: .one(keyspace), in: view))
        return try run(walk, body)
    }

    /// Runs `body` with the differences of every keyspace between versions `from` and `to`: the
    /// default keyspace first, then the named keyspaces in byte order of their names. A keyspace
    /// created or dropped in between shows all its keys as added or removed. Named keyspaces
    /// whose tree is the same in both versions are skipped without being looked at: their
    /// catalog entries are themselves diffed the same way. Otherwise as `diff(from:to:keyspace:_:)`.
    public func diffAllKeyspaces<T>(from: UInt64, to: UInt64, _ body: (DiffSequence) throws -> T) throws -> T {
        let (old, new, view) = try sourcesAndView(at: from, to)
        let walk = try DiffWalk(old: old, new: new, scope: .all, listed: try packedDiff(old, new, scope: .all, in: view))
        return try run(walk, body)
    }

    /// Runs `body` on a walk, then ends it and rethrows any error met while iterating.
    func run<T>(_ walk: DiffWalk, _ body: (DiffSequence) throws -> T) throws -> T {
        defer { walk.isOpen = false }
        let result = try body(DiffSequence(walk: walk))
        if let error = walk.pendingError { throw error }
        return result
    }
}

/// The differences between two versions, in order (keyspace, then key), produced lazily. Handed
/// to the closure of `Database.diff`; valid only inside it.
public struct DiffSequence: Sequence {
    let walk: DiffWalk

    /// The version diffed from.
    public var fromVersion: UInt64 { walk.old.version }
    /// The version diffed to.
    public var toVersion: UInt64 { walk.new.version }

    /// Tree pages (branches and leaves) read so far by this diff, both versions together: its
    /// cost. Shared subtrees are skipped unread, so diffing two versions k keys apart reads at
    /// most about 2 × depth × k pages (overflow runs read to compare or copy values are not counted).
    /// Throws `closed` after the diff's closure returned.
    public var pagesVisited: Int {
        get throws {
            try walk.ensureOpen()
            return walk.pagesVisited
        }
    }

    /// An iterator over the differences not yet produced (the walk is shared: a second
    /// iterator continues where the first stopped).
    public func makeIterator() -> Iterator { Iterator(walk: walk) }

    /// Calls `body` for each remaining difference with views of its key and values that point
    /// into the map, without copying them (for large values, or to count). The views are valid
    /// only while `body` runs. An error of the walk (a damaged page) is thrown at once, and
    /// ends the sequence; an error `body` throws is passed on as it is.
    public func forEachWithoutCopying(_ body: (DiffView) throws -> Void) throws {
        try walk.ensureOpen()
        if walk.listed != nil {
            while let entry = try walk.next() {
                try entry.key.withUnsafeBytes { key in
                    try Self.withBytes(of: entry.oldValue) { old in
                        try Self.withBytes(of: entry.newValue) { new in
                            try body(DiffView(keyspace: entry.keyspace, key: key, oldValue: old, newValue: new))
                        }
                    }
                }
            }
            return
        }
        while let change = try walk.nextRawRecordingError() {
            try walk.withValues(of: change) { old, new in
                try body(DiffView(keyspace: walk.keyspace, key: change.key, oldValue: old, newValue: new))
            }
        }
    }

    /// Calls `body` with a view of `value`'s bytes (nil: nil).
    private static func withBytes<R>(of value: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        guard let value else { return try body(nil) }
        return try value.withUnsafeBytes { try body($0) }
    }

    /// Iterates the differences; an error ends the iteration (see `Database.diff`).
    public struct Iterator: IteratorProtocol {
        let walk: DiffWalk

        /// The next difference, or nil at the end (or after an error, kept for the closure's end).
        /// Traps after the diff's closure returned: it can neither throw `closed` nor end the
        /// caller's loop unseen (`nextOrThrow()` throws `closed` there).
        public mutating func next() -> DiffEntry? {
            precondition(walk.isOpen, "CowDB: a diff was iterated by a for loop after its closure returned (nextOrThrow() throws closed)")
            guard walk.pendingError == nil else { return nil }
            do {
                return try walk.next()
            } catch {
                walk.pendingError = error
                return nil
            }
        }

        /// The next difference, or nil at the end; throws the error a damaged page causes (which
        /// ends the sequence: later calls throw it again).
        public mutating func nextOrThrow() throws -> DiffEntry? {
            try walk.ensureOpen()
            if let error = walk.pendingError { throw error }
            do {
                return try walk.next()
            } catch {
                walk.pendingError = error
                throw error
            }
        }
    }
}

/// One difference as views into the map: valid only inside the closure it is passed to
/// (`DiffSequence.forEachWithoutCopying`). Copy what must outlive it.
public struct DiffView {
    /// The keyspace (nil: the default keyspace).
    public let keyspace: String?
    /// The key's bytes.
    public let key: UnsafeRawBufferPointer
    /// The value in the `from` version (nil: the key was added).
    public let oldValue: UnsafeRawBufferPointer?
    /// The value in the `to` version (nil: the key was removed).
    public let newValue: UnsafeRawBufferPointer?

    /// Added, removed or changed.
    public var change: DiffEntry.Change {
        if oldValue == nil { return .added }
        if newValue == nil { return .removed }
        return .changed
    }
}

// MARK: - The walk over keyspaces

/// The state of one diff: both versions' sources (which keep their map alive), the keyspaces
/// still to diff, and the tree walk in progress.
final class DiffWalk {
    /// Which keyspaces a diff covers.
    enum Scope {
        case one(String?)
        case all
    }

    let old: ReadSource
    let new: ReadSource
    var isOpen = true
    var pendingError: (any Error)?
    /// The keyspace being walked and its tree walk.
    private(set) var keyspace: String?
    private var trees: TreeDiff?
    /// With `.all`: the walk over the two catalogs, which yields the keyspaces whose trees differ.
    private var catalogs: TreeDiff?
    /// Pages read by finished tree walks.
    private var pagesDone = 0
    /// A diff involving a packed version: its differences, found beforehand (Database+Changes.swift).
    private(set) var listed: [DiffEntry]?
    private var listedNext = 0

    /// Sets up the walk of `scope` from `old` to `new`; or, with `listed`, a walk over the
    /// differences given.
    init(old: ReadSource, new: ReadSource, scope: Scope, listed: [DiffEntry]? = nil) throws {
        self.old = old
        self.new = new
        if let listed {
            self.listed = listed
            return
        }
        let oldRecord = old.commit?.record, newRecord = new.commit?.record
        switch scope {
        case .one(nil), .all:
            trees = TreeDiff(oldRoot: oldRecord?.defaultRoot ?? 0, oldPages: old.pages, newRoot: newRecord?.defaultRoot ?? 0, newPages: new.pages)
        case let .one(name?):
            let oldRoot = try DiffWalk.root(of: name, in: old), newRoot = try DiffWalk.root(of: name, in: new)
            guard oldRoot != nil || newRoot != nil else { throw CowDBError.keyspaceNotFound(name) }
            keyspace = name
            trees = TreeDiff(oldRoot: oldRoot ?? 0, oldPages: old.pages, newRoot: newRoot ?? 0, newPages: new.pages)
        }
        if case .all = scope {
            catalogs = TreeDiff(oldRoot: oldRecord?.catalogRoot ?? 0, oldPages: old.pages, newRoot: newRecord?.catalogRoot ?? 0, newPages: new.pages)
        }
    }

    /// Throws `closed` when the diff is used after its closure returned.
    func ensureOpen() throws {
        guard isOpen else { throw CowDBError.closed }
    }

    /// Tree pages read so far, catalogs included.
    var pagesVisited: Int { pagesDone + (trees?.pagesVisited ?? 0) + (catalogs?.pagesVisited ?? 0) }

    /// The next difference, copied, moving on to the next changed keyspace when one is done.
    func next() throws -> DiffEntry? {
        if let listed {
            guard listedNext < listed.count else { return nil }
            listedNext += 1
            return listed[listedNext - 1]
        }
        guard let change = try nextRaw() else { return nil }
        return try withValues(of: change) { old, new in
            try DiffEntry(keyspace: keyspace, key: Array(change.key), oldValue: old.map { Array($0) }, newValue: new.map { Array($0) })
        }
    }

    /// `nextRaw()`, except that an earlier error is thrown again and a new one is kept (it ends the walk).
    func nextRawRecordingError() throws -> RawChange? {
        if let pendingError { throw pendingError }
        do {
            return try nextRaw()
        } catch {
            pendingError = error
            throw error
        }
    }

    /// The next difference as views into the map, moving on to the next changed keyspace when one is done.
    func nextRaw() throws -> RawChange? {
        while true {
            if var current = trees {
                let change = try current.next()
                trees = current
                if let change { return change }
                pagesDone += current.pagesVisited
                trees = nil
            }
            guard var catalogWalk = catalogs else { return nil }
            let changed = try catalogWalk.next()
            catalogs = catalogWalk
            guard let changed else { return nil }
            try startKeyspace(changed)
        }
    }

    /// Starts the tree walk of a keyspace whose catalog entry differs between the versions.
    private func startKeyspace(_ change: RawChange) throws {
        guard let name = String(validating: change.key, as: UTF8.self) else {
            throw CowDBError.corrupt(page: change.old?.leaf ?? change.new?.leaf, offset: nil, reason: "catalog holds a keyspace name that is not UTF-8")
        }
        let oldRoot = try change.old.map { try DiffWalk.catalogRoot($0.value, leaf: $0.leaf, name: name, source: old) } ?? 0
        let newRoot = try change.new.map { try DiffWalk.catalogRoot($0.value, leaf: $0.leaf, name: name, source: new) } ?? 0
        keyspace = name
        trees = TreeDiff(oldRoot: oldRoot, oldPages: old.pages, newRoot: newRoot, newPages: new.pages)
    }

    /// Calls `body` with the bytes of a change's old and new values (views into the map).
    func withValues<R>(of change: RawChange, _ body: (UnsafeRawBufferPointer?, UnsafeRawBufferPointer?) throws -> R) throws -> R {
        /// The bytes of one side's value, handed to `next`.
        func bytes<S>(_ found: (value: StoredValue, leaf: PageNumber)?, _ pages: PageReader, _ next: (UnsafeRawBufferPointer?) throws -> S) throws -> S {
            guard let found else { return try next(nil) }
            return try BTree.withBytes(of: .stored(found.value, leafPage: found.leaf), pages: pages) { try next($0) }
        }
        return try bytes(change.old, old.pages) { oldBytes in
            try bytes(change.new, new.pages) { newBytes in try body(oldBytes, newBytes) }
        }
    }

    // MARK: Catalog entries

    /// The root page of keyspace `name` in `source` (0: empty), or nil when it has no such keyspace.
    private static func root(of name: String, in source: ReadSource) throws -> PageNumber? {
        let key = Array(name.utf8)
        guard !key.isEmpty, key.count <= 255, let catalog = source.commit?.record.catalogRoot, catalog != 0 else { return nil }
        let found = try key.withUnsafeBytes { try BTree.findStored(rootPage: catalog, key: $0, pages: source.pages) }
        guard let (value, leaf) = found else { return nil }
        return try catalogRoot(value, leaf: leaf, name: name, source: source)
    }

    /// The root page a catalog value names, checked (`CatalogValue.decode`).
    private static func catalogRoot(_ value: StoredValue, leaf: PageNumber, name: String, source: ReadSource) throws -> PageNumber {
        try CatalogValue.read(.stored(value, leafPage: leaf), keyspace: name, pages: source.pages).root
    }
}
