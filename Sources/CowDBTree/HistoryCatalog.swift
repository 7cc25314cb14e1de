import CowDBFormat
import CowDBStorage

// Reading the catalog entries of a packed history tree (FORMAT.md, "Packed history tree"):
// which keyspaces existed at a version, and how many entries each held.
//
//   catalog entry  0x02 ‖ esc(keyspace) ‖ BE64(~version)  → HistoryValue: BE64(count) | tombstone
//
// Every keyspace (the default one, the empty name, included) has an entry at the base version
// and at every later version where it was created, dropped, or its count changed. Its entries
// are stored newest first, so its state at V is the first entry at or after catalog(ks, V),
// when that entry is still the keyspace's: one seek, as `HistoryCursor` finds a key's state.
// Listing the keyspaces seeks each name's state, then past all of its versions: a seek or two
// per name that ever existed, however often its count changed.

/// Reads keyspaces' presence and counts at one version from a history tree's catalog entries.
package struct HistoryCatalog {
    private var tree: TreeCursor
    private let version: UInt64
    /// The search key being built (reused).
    private var probe: [UInt8] = []

    /// A reader of the catalog entries at `version` of the history tree at `rootPage` (0: empty).
    package init(rootPage: PageNumber, pages: PageReader, version: UInt64) {
        tree = TreeCursor(root: rootPage == 0 ? nil : .page(rootPage), pages: pages)
        self.version = version
    }

    /// The entry count of `keyspace` (its name's bytes; empty: the default keyspace) at the
    /// version, or nil when it did not exist then. The default keyspace always exists: a tree
    /// without its entry at the version is damaged (an empty tree: the empty database, count 0).
    package mutating func count(of keyspace: [UInt8]) throws -> UInt64? {
        let count = try state(of: keyspace)
        guard keyspace.isEmpty, count == nil else { return count }
        if tree.root == nil { return 0 }
        throw CowDBError.corrupt(page: nil, offset: nil, reason: "history tree has no default keyspace count at version \(version)")
    }

    /// The names (bytes) of the named keyspaces that existed at the version, in byte order.
    package mutating func namedKeyspaces() throws -> [[UInt8]] {
        var names: [[UInt8]] = []
        var passed: [UInt8]?
        var more = try [HistoryKey.Kind.catalog.rawValue].withUnsafeBytes { try tree.seek($0) }
        while more, let entry = try entry() {
            if let passed, compareBytes(passed, entry.keyspace) >= 0 {
                throw CowDBError.corruptPage(pageOfTop(), "history catalog out of order: keyspace \(entry.keyspace) after \(passed)")
            }
            passed = entry.keyspace
            if !entry.keyspace.isEmpty, try state(of: entry.keyspace) != nil { names.append(entry.keyspace) }
            more = try seekPast(entry.keyspace)
        }
        return names
    }

    // MARK: Steps

    /// The count in `keyspace`'s newest catalog entry at or before the version; nil when it
    /// has none or that entry is a tombstone.
    private mutating func state(of keyspace: [UInt8]) throws -> UInt64? {
        keyspace.withUnsafeBytes { HistoryKey.catalog(keyspace: $0, version: version, into: &probe) }
        guard try probe.withUnsafeBytes({ try tree.seek($0) }), let entry = try entry(), entry.keyspace == keyspace else {
            return nil
        }
        guard entry.version <= version else {
            throw CowDBError.corruptPage(pageOfTop(), "history catalog out of order: version \(entry.version) found seeking \(version)")
        }
        return try count(ofEntryAt: entry)
    }

    /// The catalog entry under the tree cursor, decoded; nil past the catalog entries.
    private func entry() throws -> HistoryKey.Decoded? {
        guard tree.isPositioned else { return nil }
        let decoded = try tree.withKey { bytes in try HistoryKey.decode(bytes, page: pageOfTop()) }
        return decoded.kind == .catalog ? decoded : nil
    }

    /// The count the catalog entry under the tree cursor holds (nil: a tombstone); throws
    /// `corrupt` for a value that is not a marked inline BE64 or a tombstone.
    private func count(ofEntryAt entry: HistoryKey.Decoded) throws -> UInt64? {
        guard case let .stored(stored, leaf) = try tree.value() else {
            preconditionFailure("CowDB: history trees are read from written pages only")
        }
        guard case .inline = stored else {
            throw CowDBError.corruptPage(leaf, "history catalog entry of keyspace \(entry.keyspace) has an overflow value")
        }
        guard let value = try HistoryValue.decode(stored, page: leaf) else { return nil }
        guard case let .inline(bytes) = value, bytes.count == 8 else {
            throw CowDBError.corruptPage(leaf, "history catalog entry of keyspace \(entry.keyspace) holds a count that is not 8 bytes")
        }
        return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }

    /// Seeks the tree past every catalog entry of `keyspace` (its escaped name, then nine 0xFF
    /// bytes: above any 8-byte version; the escaped name is prefix-free).
    private mutating func seekPast(_ keyspace: [UInt8]) throws -> Bool {
        probe.removeAll(keepingCapacity: true)
        probe.append(HistoryKey.Kind.catalog.rawValue)
        keyspace.withUnsafeBytes { HistoryKey.appendEscaped($0, to: &probe) }
        probe.append(contentsOf: repeatElement(0xFF, count: 9))
        return try probe.withUnsafeBytes { try tree.seek($0) }
    }

    /// The page the tree cursor is on, for error messages.
    private func pageOfTop() -> PageNumber {
        if case let .leafPage(view) = tree.current.level { return view.number }
        return 0
    }
}
