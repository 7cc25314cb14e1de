import CowDBFormat
import CowDBStorage

// Reading the change index of a packed history tree (docs/PACKED-HISTORY.md): its entries
// `0x03 ‖ BE64(version) ‖ esc(keyspace) ‖ grp(key)` say which keys each version changed, in
// version order, so a diff from a packed version visits only the keys that can differ
// instead of comparing two whole states.

/// The change index of a history tree.
package enum HistoryChangeIndex {
    /// Calls `body` with (version, keyspace name bytes, key) of every change-index entry of a
    /// version in `after + 1 ... through`, in order (by version, then keyspace, then key).
    /// Keys must strictly increase: a damaged tree out of order throws `corrupt`.
    package static func forEach(rootPage: PageNumber, pages: PageReader, after: UInt64, through: UInt64,
                                _ body: (UInt64, [UInt8], [UInt8]) throws -> Void) throws {
        guard rootPage != 0, after < through else { return }
        var cursor = TreeCursor(root: .page(rootPage), pages: pages)
        var probe: [UInt8] = [HistoryKey.Kind.change.rawValue]
        withUnsafeBytes(of: (after + 1).bigEndian) { probe.append(contentsOf: $0) }
        var more = try probe.withUnsafeBytes { try cursor.seek($0) }
        var previous: [UInt8]?
        while more {
            let key = try cursor.keyArray()
            if let previous, compareBytes(previous, key) >= 0 {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "history change index out of order")
            }
            let decoded = try key.withUnsafeBytes { try HistoryKey.decode($0, page: 0) }
            guard decoded.kind == .change, decoded.version <= through else { return }
            try body(decoded.version, decoded.keyspace, decoded.key)
            previous = key
            more = try cursor.next()
        }
    }
}
