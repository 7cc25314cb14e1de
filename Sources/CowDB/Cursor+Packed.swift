import CowDBFormat
import CowDBStorage
import CowDBTree

// A `Cursor` at a packed version (docs/PACKED-HISTORY.md): its moves go to a `HistoryCursor`
// over the keyspace in the history tree instead of a tree cursor. A packed version is never
// written, so the cursor never re-seeks for changes made meanwhile.

extension Cursor {
    /// Seeks, or goes to the first or last entry, with a fresh history cursor; returns the
    /// entry it lands on.
    mutating func packedMove(_ move: (inout HistoryCursor) throws -> Bool) throws -> (key: [UInt8], value: [UInt8])? {
        try transaction.ensureOpen()
        _ = try transaction.tree(name) // the keyspace must exist at this version
        var cursor = history ?? transaction.historyCursor(in: name)
        history = nil
        key = nil
        let found = try move(&cursor)
        return try packedLand(cursor, found, from: nil, ascending: true)
    }

    /// Steps from `current` (the key the cursor is on; nil: not positioned, which stays so).
    mutating func packedStep(from current: [UInt8]?, ascending: Bool) throws -> (key: [UInt8], value: [UInt8])? {
        guard let current, var cursor = history else { return nil }
        history = nil
        key = nil
        let found = ascending ? try cursor.next() : try cursor.previous()
        return try packedLand(cursor, found, from: current, ascending: ascending)
    }

    /// Records where a move landed and returns the entry, its value copied. A step must move
    /// strictly forward (or backward) from `previous`: a damaged tree out of order throws.
    private mutating func packedLand(_ cursor: HistoryCursor, _ found: Bool, from previous: [UInt8]?,
                                     ascending: Bool) throws -> (key: [UInt8], value: [UInt8])? {
        guard found, let value = cursor.value else { return nil }
        if let previous {
            let order = compareBytes(previous, cursor.key)
            guard ascending ? order < 0 : order > 0 else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "keys out of order while stepping \(ascending ? "forward" : "backward") in a packed version")
            }
        }
        let bytes = try BTree.withBytes(of: value, pages: transaction.source.pages) { Array($0) }
        history = cursor
        key = cursor.key
        return (cursor.key, bytes)
    }
}
