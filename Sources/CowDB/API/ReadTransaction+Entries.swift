// Zero-copy range reads: the entries of a key range handed to a closure as views into the
// map (or into the transaction's changed nodes), without the two arrays per entry that
// `Cursor` and `scan` return. The loop walks one leaf at a time and climbs the tree only
// between leaves.

extension ReadTransaction {
    /// Calls `body` with the key and value of each entry in `[from, to)` of the default
    /// keyspace (either bound optional), in ascending key order, without copying them: the
    /// bytes point into the map and are valid only during that call of `body`. Stops after
    /// `limit` entries or when `body` returns false. `body` must not change the transaction
    /// (that traps); collect changes and make them after the walk.
    ///
    /// ```swift
    /// try db.read { txn in
    ///     try txn.withEntries(from: start, limit: 10) { key, value in
    ///         total += value.count
    ///         return true
    ///     }
    /// }
    /// ```
    public func withEntries(from: [UInt8]? = nil, to: [UInt8]? = nil, limit: Int = .max,
                            _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        try withEntries(in: nil, from: from, to: to, limit: limit, body)
    }

    /// `withEntries` over keyspace `name` (nil: the default keyspace).
    func withEntries(in name: String?, from: [UInt8]?, to: [UInt8]?, limit: Int,
                     _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        ensureOpen()
        precondition(limit >= 0, "CowDB: withEntries limit must not be negative")
        guard limit > 0 else { return }
        let stamp = mutationStamp
        var cursor = TreeCursor(root: try tree(name).root, pages: pages)
        var positioned = try from.map { key in try key.withUnsafeBytes { try cursor.seek($0) } } ?? cursor.first()
        var walk = EntryWalk(to: to, limit: limit)
        while positioned {
            let (level, start) = cursor.current
            switch level {
            case let .leafPage(view):
                for index in start ..< view.count {
                    let key = try view.key(index)
                    let value: UnsafeRawBufferPointer
                    switch try view.value(index) {
                    case let .inline(bytes): value = bytes
                    case let .overflow(page, length): value = try OverflowPage.value(in: pages, page: page, length: length, below: view.number)
                    }
                    guard try walk.step(key: key, value: value, storedKey: true, body) else { return }
                    precondition(mutationStamp == stamp, "CowDB: the transaction changed inside withEntries")
                }
            case let .node(node):
                for index in start ..< node.count {
                    let keep = try node.keys[index].withUnsafeBytes { key in
                        try BTree.withBytes(of: .dirty(node.values[index]), pages: pages) { value in
                            try walk.step(key: key, value: value, storedKey: false, body)
                        }
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
    var hasPrevious = false

    init(to: [UInt8]?, limit: Int) {
        self.to = to
        left = limit
    }

    /// Checks order and the upper bound, then hands the entry to `body`; false ends the walk.
    @inline(__always)
    mutating func step(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, storedKey: Bool,
                       _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        if let to, to.withUnsafeBytes({ compareBytes(key, $0) }) >= 0 { return false }
        if hasPrevious {
            let order = previousStored.map { compareBytes($0, key) } ?? previousCopied.withUnsafeBytes { compareBytes($0, key) }
            guard order < 0 else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "keys out of order in a range read")
            }
        }
        guard try body(key, value) else { return false }
        left -= 1
        hasPrevious = true
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
