import CowDBFormat
import CowDBStorage
import CowDBTree
// Zero-copy range reads: the entries of a key range handed to a closure as views into the
// map (or into the transaction's changed nodes), without the two arrays per entry that
// `Cursor` and `scan` return. The loop walks one leaf at a time and climbs the tree only
// between leaves.

extension ReadTransaction {
    /// Calls `body` with the key and value of each entry in `[from, to)` of the default
    /// keyspace (either bound optional), in ascending key order, without copying them: the
    /// bytes point into the map and are valid only during that call of `body`. Stops after
    /// `limit` entries (not negative: that throws `invalidArgument`) or when `body` returns
    /// false. `body` must not change the transaction (that throws `busy`); collect changes and
    /// make them after the walk.
    ///
    /// ```swift
    /// try db.read { txn in
    ///     try txn.withEntries(from: start, limit: 10) { key, value in
    ///         total += value.count
    ///         return true
    ///     }
    /// }
    /// ```
    public func withEntries<From: ByteRepresentable, To: ByteRepresentable>(
        from: From? = [UInt8]?.none, to: To? = [UInt8]?.none, limit: Int = .max,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try withEntries(in: nil, from: from.map(byteArray), to: to.map(byteArray), limit: limit, body)
    }

    /// `withEntries` over keyspace `name` (nil: the default keyspace).
    func withEntries(in name: String?, from: [UInt8]?, to: [UInt8]?, limit: Int,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try ensureOpen()
        guard limit >= 0 else { throw CowDBError.invalidArgument("withEntries limit \(limit) is negative") }
        guard limit > 0 else { return }
        openViews += 1
        defer { openViews -= 1 }
        if source.packed != nil { return try packedWithEntries(in: name, from: from, to: to, limit: limit, body) }
        let root = try tree(name).root
        var walk = EntryWalk(to: to, limit: limit)
        if case let .page(rootPage)? = root {
            // Written pages only (every read transaction): the allocation-free walk.
            let pages = self.pages
            let stamp = mutationStamp
            try from.withOptionalBytes { from in
                try BTree.walkStored(rootPage: rootPage, from: from, pages: pages) { leaf, index in
                    let (key, value) = try Self.entryBytes(leaf, index, pages: pages)
                    guard try walk.step(key: key, value: value, storedKey: true, body) else { return false }
                    precondition(mutationStamp == stamp, "CowDB: the transaction changed inside withEntries")
                    return true
                }
            }
            return
        }
        try withEntriesThroughCursor(root: root, from: from, walk: &walk, body)
    }

    /// The key and value bytes of entry `index` of a leaf page (an overflow value read from its run).
    @inline(__always)
    private static func entryBytes(_ leaf: LeafPageView, _ index: Int, pages: PageReader) throws -> (UnsafeRawBufferPointer, UnsafeRawBufferPointer) {
        let (key, stored) = try leaf.entry(index)
        switch stored {
        case let .inline(bytes): return (key, bytes)
        case let .overflow(page, length): return (key, try pages.overflowValue(page: page, length: length, below: leaf.number))
        }
    }

    /// `withEntries` over a tree with changed nodes (a write transaction's): through the
    /// general tree cursor.
    private func withEntriesThroughCursor(root: NodeRef?, from: [UInt8]?, walk: inout EntryWalk,
                                          _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        let stamp = mutationStamp
        var cursor = TreeCursor(root: root, pages: pages)
        var positioned = try from.map { key in try key.withUnsafeBytes { try cursor.seek($0) } } ?? cursor.first()
        while positioned {
            let (level, start) = cursor.current
            switch level {
            case let .leafPage(view):
                for index in start ..< view.count {
                    let (key, value) = try Self.entryBytes(view, index, pages: pages)
                    guard try walk.step(key: key, value: value, storedKey: true, body) else { return }
                    precondition(mutationStamp == stamp, "CowDB: the transaction changed inside withEntries")
                }
            case let .node(node):
                for index in start ..< node.count {
                    let key = node.key(index)
                    let keep = try BTree.withBytes(of: .dirty(node, index: index), pages: pages) { value in
                        try walk.step(key: key, value: value, storedKey: false, body)
                    }
                    guard keep else { return }
                    precondition(mutationStamp == stamp, "CowDB: the transaction changed inside withEntries")
                }
            case .branchPage:
                preconditionFailure("cursor not on a leaf")
            }
            positioned = try cursor.nextLeaf()
        }
    }
}

extension Optional where Wrapped == [UInt8] {
    /// Calls `body` with the bytes of the array, or nil.
    @inline(__always)
    fileprivate func withOptionalBytes<R>(_ body: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
        switch self {
        case let .some(bytes): return try bytes.withUnsafeBytes { try body($0) }
        case .none: return try body(nil)
        }
    }
}

/// The state of one `withEntries` walk: the upper bound, the entries left, and the previous
/// key. Each key must be greater than the one before: a damaged file whose branches repeat a
/// subtree would otherwise make the walk revisit it (as `Cursor` checks too).
private struct EntryWalk {
    let to: [UInt8]?
    var left: Int
    /// The previous key when it lies in the map (valid for the whole transaction).
    var previousStored: UnsafeRawBufferPointer?
    /// The previous key, copied, when it came from a changed node.
    var previousCopied: [UInt8] = []
    /// The previous key's head (its first 8 bytes as a number), which decides most comparisons.
    var previousHead: UInt64 = 0
    var hasPrevious = false

    init(to: [UInt8]?, limit: Int) {
        self.to = to
        left = limit
    }

    /// Checks order and the upper bound, then hands the entry to `body`; false ends the walk.
    /// The head is taken from the key's own bytes, not from the head a leaf page stores: a
    /// damaged page (checksum recomputed) whose heads disagree with its keys must not pass
    /// out-of-order keys off as a range.
    @inline(__always)
    mutating func step(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, storedKey: Bool,
                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        let head = keyHead(key)
        if let to, to.withUnsafeBytes({ compareBytes(key, $0) }) >= 0 { return false }
        if hasPrevious, head <= previousHead {
            let order = head < previousHead ? 1
                : previousStored.map { compareBytes($0, key) } ?? previousCopied.withUnsafeBytes { compareBytes($0, key) }
            guard order < 0 else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "keys out of order in a range read")
            }
        }
        guard try body(key, value) else { return false }
        left -= 1
        hasPrevious = true
        previousHead = head
        if storedKey {
            previousStored = key
        } else {
            previousStored = nil
            previousCopied.removeAll(keepingCapacity: true)
            previousCopied.append(contentsOf: key)
        }
        return left > 0
    }
}
