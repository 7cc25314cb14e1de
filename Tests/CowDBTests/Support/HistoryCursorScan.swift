import CowDBStorage
import CowDBTree

/// What a `HistoryCursor` reads of its keyspace at its version: every key and value forwards,
/// and every key backwards (the history tests compare both with their models).
func scanBothWays(_ cursor: inout HistoryCursor, pages: PageReader) throws -> (forward: [([UInt8], [UInt8])], backward: [[UInt8]]) {
    var forward: [([UInt8], [UInt8])] = []
    var more = try cursor.first()
    while more {
        let value = try cursor.value.map { try BTree.withBytes(of: $0, pages: pages) { Array($0) } }
        forward.append((cursor.key, value ?? []))
        more = try cursor.next()
    }
    var backward: [[UInt8]] = []
    more = try cursor.last()
    while more {
        backward.append(cursor.key)
        more = try cursor.previous()
    }
    return (forward, backward)
}
