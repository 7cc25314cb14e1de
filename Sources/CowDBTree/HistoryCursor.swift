import CowDBFormat
import CowDBStorage

// Reading one keyspace of the packed history tree as it was at one version
// (docs/FORMAT.md, "Packed history tree"; a pack commit's catalogRoot). The tree is an
// ordinary B+tree whose keys are `HistoryKey`s and whose values are `HistoryValue`s; this
// cursor turns it back into the keyspace at `version`: the keys that had a value then, in
// key order, either way, each with the value it had.
//
// A key's entries are stored newest first, so its state at V is the first entry at or after
// pair(keyspace, key, V) when that entry is still the key's: one seek. Going on to the next
// key steps over the key's older versions in place, or, past 8 of them, seeks past all of
// them (`HistoryKey.afterAllVersions`), so a scan costs a few steps, at most a seek or two,
// per key that ever had an entry, however long its history.
//
// The forward path (gets, forward scans: HistoryCursor+Forward.swift) works on the composite
// keys' bytes as they lie in the page — the keyspace prefix compared, the grouped key checked
// and compared as it is (`grp` preserves order and equality), the version read from the last
// 8 bytes — and builds its probes from them, so a step allocates only the key it lands on.

/// A cursor over a keyspace of a history tree at one version.
package struct HistoryCursor {
    var tree: TreeCursor
    let keyspace: [UInt8]
    let version: UInt64
    /// `0x01 ‖ esc(keyspace)`: how every pair entry of the keyspace begins.
    let prefix: [UInt8]
    /// The search key being built (reused).
    var probe: [UInt8] = []
    /// The grouped key of the entry being looked at, and of the last key passed (reused).
    var current: [UInt8] = []
    var passed: [UInt8] = []
    /// The user key the cursor is on (valid while positioned).
    package private(set) var key: [UInt8] = []
    /// Its value at `version` (valid while positioned).
    package private(set) var value: FoundValue?

    /// A cursor over `keyspace` (its name's bytes; empty: the default keyspace) at `version`
    /// of the history tree at `rootPage` (0: empty).
    package init(rootPage: PageNumber, pages: PageReader, keyspace: [UInt8], version: UInt64) {
        tree = TreeCursor(root: rootPage == 0 ? nil : .page(rootPage), pages: pages)
        self.keyspace = keyspace
        self.version = version
        var prefix: [UInt8] = [HistoryKey.Kind.pair.rawValue]
        keyspace.withUnsafeBytes { HistoryKey.appendEscaped($0, to: &prefix) }
        self.prefix = prefix
    }

    /// Whether the cursor is on a key.
    package var isPositioned: Bool { value != nil }

    /// The value `key` had at `version` in `keyspace` of the history tree at `rootPage`, or
    /// nil when it had none (never written, or removed by then).
    package static func get(rootPage: PageNumber, pages: PageReader, keyspace: [UInt8], key: UnsafeRawBufferPointer,
                            version: UInt64) throws -> FoundValue? {
        guard rootPage != 0 else { return nil }
        var probe: [UInt8] = []
        keyspace.withUnsafeBytes { HistoryKey.pair(keyspace: $0, key: key, version: version, into: &probe) }
        var result: FoundValue?
        // The first entry at or after pair(keyspace, key, version) is the key's entry in force
        // then when all but its last 8 bytes (the version) are the probe's.
        try probe.withUnsafeBytes { probe in
            try BTree.walkStored(rootPage: rootPage, from: probe, pages: pages) { leaf, index in
                let (found, stored) = try leaf.entry(index)
                if found.count == probe.count, bytesEqual(found.baseAddress!, probe.baseAddress!, count: probe.count - 8) {
                    result = try HistoryValue.decode(stored, page: leaf.number).map { .stored($0, leafPage: leaf.number) }
                }
                return false
            }
        }
        return result
    }

    // MARK: Moves

    /// Positions on the first key ≥ `target` that had a value at the version.
    package mutating func seek(_ target: UnsafeRawBufferPointer) throws -> Bool {
        guard try seekEntry(target) else { return unposition() }
        passed.removeAll(keepingCapacity: true)
        return try settleForward(try loadCurrent())
    }

    /// Positions on the first key that had a value at the version.
    package mutating func first() throws -> Bool { try seek(UnsafeRawBufferPointer(start: nil, count: 0)) }

    /// Positions on the last key that had a value at the version.
    package mutating func last() throws -> Bool {
        // Past every pair entry of the keyspace: its name's field with the terminator raised.
        probe.removeAll(keepingCapacity: true)
        probe.append(HistoryKey.Kind.pair.rawValue)
        keyspace.withUnsafeBytes { HistoryKey.appendEscaped($0, to: &probe) }
        probe[probe.count - 1] = 0x01
        let found = try probe.withUnsafeBytes { try tree.seek($0) }
        guard found ? try tree.previous() : try tree.last() else { return unposition() }
        return try settleBackward()
    }

    /// Moves to the next key that had a value at the version.
    package mutating func next() throws -> Bool {
        guard isPositioned else { return false }
        passed.removeAll(keepingCapacity: true)
        key.withUnsafeBytes { HistoryKey.appendGrouped($0, to: &passed) }
        return try settleForward(try skip(passed, newerThan: nil))
    }

    /// Moves to the previous key that had a value at the version.
    package mutating func previous() throws -> Bool {
        guard isPositioned else { return false }
        guard try seekNewest(key), try tree.previous() else { return unposition() }
        return try settleBackward()
    }

    // MARK: Steps

    /// The tree entry under the tree cursor, if it is a pair entry of this keyspace.
    private func entry() throws -> HistoryKey.Decoded? {
        guard tree.isPositioned else { return nil }
        let decoded = try tree.withKey { bytes in try HistoryKey.decode(bytes, page: pageOfTop()) }
        guard decoded.kind == .pair, decoded.keyspace == keyspace else { return nil }
        return decoded
    }

    /// The page the tree cursor is on, for error messages.
    func pageOfTop() -> PageNumber {
        if case let .leafPage(view) = tree.current.level { return view.number }
        return 0
    }

    /// The value of the entry under the tree cursor (`entry`), nil for a tombstone.
    func state(of entry: HistoryKey.Decoded) throws -> FoundValue? {
        guard case let .stored(stored, leaf) = try tree.value() else {
            preconditionFailure("CowDB: history trees are read from written pages only")
        }
        return try HistoryValue.decode(stored, page: leaf).map { .stored($0, leafPage: leaf) }
    }

    /// Throws `corrupt` unless `key` sorts after `passed` (nil: nothing passed yet).
    private func checkOrder(_ key: [UInt8], after passed: [UInt8]?) throws {
        guard let passed, compareBytes(passed, key) >= 0 else { return }
        throw CowDBError.corruptPage(pageOfTop(), "history tree out of order: key \(key) after \(passed)")
    }

    /// Backward from the tree cursor (on some entry of a key, or before the keyspace's end):
    /// the last key at or before it whose state at the version is a value.
    /// Every key it moves to must be below the one before.
    private mutating func settleBackward() throws -> Bool {
        var passed: [UInt8]?
        while let entry = try entry() {
            if let passed, compareBytes(entry.key, passed) >= 0 {
                throw CowDBError.corruptPage(pageOfTop(), "history tree out of order: key \(entry.key) before \(passed)")
            }
            passed = entry.key
            if try seekEntry(entry.key), let at = try self.entry(), at.key == entry.key, let found = try state(of: at) {
                return position(at.key, found)
            }
            guard try seekNewest(entry.key), try tree.previous() else { return unposition() }
        }
        return unposition()
    }

    /// Seeks the tree to pair(keyspace, key, version): the key's entry in force at the version.
    mutating func seekEntry(_ key: UnsafeRawBufferPointer) throws -> Bool {
        keyspace.withUnsafeBytes { HistoryKey.pair(keyspace: $0, key: key, version: version, into: &probe) }
        return try probe.withUnsafeBytes { try tree.seek($0) }
    }

    /// Seeks the tree to `key`'s newest entry (or whatever follows where it would be).
    private mutating func seekNewest(_ key: [UInt8]) throws -> Bool {
        keyspace.withUnsafeBytes { ks in key.withUnsafeBytes { HistoryKey.pair(keyspace: ks, key: $0, version: .max, into: &probe) } }
        return try probe.withUnsafeBytes { try tree.seek($0) }
    }

    /// `seekEntry` of a key held in an array.
    private mutating func seekEntry(_ key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { try seekEntry($0) }
    }

    /// Records the key the cursor is on and its value; true.
    mutating func position(_ key: [UInt8], _ value: FoundValue) -> Bool {
        self.key = key
        self.value = value
        return true
    }

    /// Leaves the cursor on no key; false.
    mutating func unposition() -> Bool {
        value = nil
        return false
    }
}
