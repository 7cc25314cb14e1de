import CowDBFormat
import CowDBStorage
import CowDBTree
/// A movable position in one keyspace of a transaction. Each move returns the entry it lands
/// on, or nil when there is none. In a write transaction a cursor survives changes made
/// meanwhile: it re-seeks from its current key. Valid only while its transaction's closure runs
/// (later moves throw `closed`).
public struct Cursor {
    let transaction: ReadTransaction
    let name: String?
    private var inner: TreeCursor?
    private var stamp: UInt64 = 0
    /// At a packed version: the cursor over the history tree (Cursor+Packed.swift).
    var history: HistoryCursor?
    /// The key the cursor is on, if positioned.
    public internal(set) var key: [UInt8]?

    init(transaction: ReadTransaction, name: String?) {
        self.transaction = transaction
        self.name = name
    }

    /// Positions on the first entry whose key is ≥ `key` (any `ByteRepresentable` type).
    @inlinable
    public mutating func seek<Key: ByteRepresentable>(to key: Key) throws -> (key: [UInt8], value: [UInt8])? {
        try key.withBytes { try seek(toBytes: $0) }
    }

    /// `seek(to:)` with the key's bytes.
    @usableFromInline
    mutating func seek(toBytes key: UnsafeRawBufferPointer) throws -> (key: [UInt8], value: [UInt8])? {
        if transaction.source.packed != nil { return try packedMove { cursor in try cursor.seek(key) } }
        var tree = try fresh()
        let found = try tree.seek(key)
        return try land(tree, found)
    }

    /// Positions on the first entry.
    public mutating func first() throws -> (key: [UInt8], value: [UInt8])? {
        if transaction.source.packed != nil { return try packedMove { try $0.first() } }
        var tree = try fresh()
        let found = try tree.first()
        return try land(tree, found)
    }

    /// Positions on the last entry.
    public mutating func last() throws -> (key: [UInt8], value: [UInt8])? {
        if transaction.source.packed != nil { return try packedMove { try $0.last() } }
        var tree = try fresh()
        let found = try tree.last()
        return try land(tree, found)
    }

    /// Moves to the next entry (nil past the end; an unpositioned cursor stays so).
    public mutating func next() throws -> (key: [UInt8], value: [UInt8])? {
        try transaction.ensureOpen()
        guard let key, var tree = inner else { return try packedStep(from: key, ascending: true) }
        if stamp != transaction.mutationStamp {
            // The transaction changed since: find the current key again. If it was deleted,
            // the seek already stands on its successor.
            tree = try fresh()
            guard try key.withUnsafeBytes({ try tree.seek($0) }) else { return try land(tree, false) }
            let same = try tree.withKey { k in key.withUnsafeBytes { compareBytes(k, $0) } } == 0
            if !same { return try land(tree, true) }
        }
        let found = try tree.next()
        return try land(tree, found, from: key, ascending: true)
    }

    /// Moves to the previous entry (nil before the start; an unpositioned cursor stays so).
    public mutating func previous() throws -> (key: [UInt8], value: [UInt8])? {
        try transaction.ensureOpen()
        guard let key, var tree = inner else { return try packedStep(from: key, ascending: false) }
        if stamp != transaction.mutationStamp {
            // Re-seek: the entry before the first key ≥ the current one is the predecessor.
            tree = try fresh()
            guard try key.withUnsafeBytes({ try tree.seek($0) }) else {
                let found = try tree.last()
                return try land(tree, found)
            }
        }
        let found = try tree.previous()
        return try land(tree, found, from: key, ascending: false)
    }

    // MARK: Internals

    /// A tree cursor over the keyspace's current root.
    private mutating func fresh() throws -> TreeCursor {
        try transaction.ensureOpen()
        stamp = transaction.mutationStamp
        return TreeCursor(root: try transaction.tree(name).root, pages: transaction.pages)
    }

    /// Records where a move landed and returns the entry. A step from `previous` must move
    /// strictly forward (or backward): a damaged file whose pages repeat a subtree would
    /// otherwise make a scan revisit it without end.
    private mutating func land(_ tree: TreeCursor, _ found: Bool, from previous: [UInt8]? = nil, ascending: Bool = true) throws -> (key: [UInt8], value: [UInt8])? {
        guard found else {
            inner = nil
            key = nil
            return nil
        }
        inner = tree
        let key = try tree.keyArray()
        if let previous {
            let order = compareBytes(previous, key)
            guard ascending ? order < 0 : order > 0 else {
                inner = nil
                self.key = nil
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "keys out of order while stepping \(ascending ? "forward" : "backward") from \(previous.prefix(16).map { String(format: "%02x", $0) }.joined())")
            }
        }
        self.key = key
        let value = try BTree.withBytes(of: try tree.value(), pages: transaction.pages) { Array($0) }
        return (key, value)
    }
}

/// The entries of a range, in order, produced lazily from a cursor.
public struct ScanSequence: Sequence {
    let cursor: Cursor
    let from: [UInt8]?
    let to: [UInt8]?
    let reverse: Bool

    /// An iterator over the range, from its start (its end when reversed).
    public func makeIterator() -> Iterator {
        Iterator(cursor: cursor, from: from, to: to, reverse: reverse)
    }

    /// Walks the range. In a `for` loop an error (a damaged page) ends the walk and is rethrown
    /// when the transaction's closure returns; `nextOrThrow()` throws it at once instead, so that
    /// a loop cannot end early without knowing: `while let (key, value) = try it.nextOrThrow()`.
    /// After the transaction's closure returned, `nextOrThrow()` throws `closed`; `next()`,
    /// which can neither throw nor end the caller's loop unseen, traps.
    public struct Iterator: IteratorProtocol {
        var cursor: Cursor
        let from: [UInt8]?
        let to: [UInt8]?
        let reverse: Bool
        var started = false
        var done = false

        /// The next entry, or nil at the end (or after an error, which the closure rethrows when it returns; `nextOrThrow()` throws it at once).
        public mutating func next() -> (key: [UInt8], value: [UInt8])? {
            do {
                return try nextOrThrow()
            } catch {
                keepForClosure(error)
                return nil
            }
        }

        /// Keeps `error`, met by `next()`, for the transaction to rethrow when its closure
        /// returns; traps when the closure has returned (`next()` cannot throw `closed`).
        mutating func keepForClosure(_ error: any Error) {
            let transaction = cursor.transaction
            precondition(transaction.isOpen, "CowDB: a scan was iterated by a for loop after its transaction's closure returned (nextOrThrow() throws closed)")
            transaction.pendingError = transaction.pendingError ?? error
        }

        /// The next entry; throws what stops the walk (a damaged page), after which the
        /// iterator is done. An error thrown here is the caller's: the transaction does not
        /// rethrow it when its closure returns.
        public mutating func nextOrThrow() throws -> (key: [UInt8], value: [UInt8])? {
            guard !done else { return nil }
            do {
                let entry: (key: [UInt8], value: [UInt8])?
                if !started {
                    started = true
                    if reverse {
                        if let to {
                            entry = try cursor.seek(to: to) != nil ? try cursor.previous() : try cursor.last()
                        } else {
                            entry = try cursor.last()
                        }
                    } else {
                        entry = try from.map { try cursor.seek(to: $0) } ?? cursor.first()
                    }
                } else {
                    entry = reverse ? try cursor.previous() : try cursor.next()
                }
                guard let entry, inRange(entry.key) else {
                    done = true
                    return nil
                }
                return entry
            } catch {
                done = true
                throw error
            }
        }

        private func inRange(_ key: [UInt8]) -> Bool {
            if let to, compareBytes(key, to) >= 0 { return false }
            if let from, compareBytes(key, from) < 0 { return false }
            return true
        }
    }
}
