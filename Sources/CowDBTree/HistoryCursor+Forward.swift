import CowDBFormat
import CowDBStorage

// The forward path of `HistoryCursor` (gets and forward steps), on the composite keys' bytes
// in place: see HistoryCursor.swift.

extension HistoryCursor {
    /// Forward from the tree cursor, whose entry `loadCurrent` has loaded (`loaded`: its
    /// version; nil: the keyspace's entries are over): the first key whose state at the
    /// version is a value. `passed` holds the grouped key passed last (empty: none). Every key
    /// it moves to must be above the one before (a damaged tree out of order throws rather
    /// than sending the loop round for ever).
    mutating func settleForward(_ loaded: UInt64?) throws -> Bool {
        var loaded = loaded
        while let entryVersion = loaded {
            if !passed.isEmpty, compareBytes(passed, current) >= 0 {
                throw CowDBError.corruptPage(pageOfTop(), "history tree out of order")
            }
            if entryVersion > version {
                // Newer than the version read: that key's entry in force then, if any.
                swap(&passed, &current)
                loaded = try skip(passed, newerThan: version)
                guard loaded != nil, current == passed else { continue }
            }
            if let found = try currentValue() { return position(try HistoryKey.ungrouped(current, page: pageOfTop()), found) }
            swap(&passed, &current)
            loaded = try skip(passed, newerThan: nil)
        }
        return unposition()
    }

    /// Moves the tree cursor past the entries of the key grouped as `key` that are newer than
    /// `limit` (nil: all of them), and loads the entry it lands on; returns its version (nil:
    /// the keyspace's entries are over). A few steps in place (a key has a few versions, and
    /// they are neighbours), else one seek (a key with a long history).
    mutating func skip(_ key: [UInt8], newerThan limit: UInt64?) throws -> UInt64? {
        for _ in 0 ..< 8 {
            guard try tree.next() else { return nil }
            // Another entry of `key` (compared in place: `key` was checked when it was loaded)?
            guard let entryVersion = try versionIfEntry(of: key) else { return try loadCurrent() }
            if let limit, entryVersion <= limit {
                current.removeAll(keepingCapacity: true)
                current += key
                return entryVersion
            }
        }
        let found = try limit.map { try seekCurrent(version: $0, of: key) } ?? seekPast(grouped: key)
        return found ? try loadCurrent() : nil
    }

    /// Reads the entry under the tree cursor: when it is a pair entry of this keyspace, copies
    /// its grouped key into `current` (checked: whole groups, valid markers, zero padding) and
    /// returns its version; nil when it is anything else (the keyspace's entries are over).
    mutating func loadCurrent() throws -> UInt64? {
        guard tree.isPositioned else { return nil }
        let page = pageOfTop()
        let prefix = self.prefix
        var grouped = current // the buffer taken out, so the closure below may fill it
        current = []
        grouped.removeAll(keepingCapacity: true)
        let found = try tree.withKey { bytes -> UInt64? in
            guard bytes.count >= prefix.count, prefix.withUnsafeBytes({ bytesEqual($0.baseAddress!, bytes.baseAddress!, count: prefix.count) }) else {
                _ = try HistoryKey.decode(bytes, page: page) // another kind or keyspace: the end, if it is a key at all
                return nil
            }
            guard bytes.count >= prefix.count + 17 else { throw CowDBError.corruptPage(page, "history key of \(bytes.count) bytes") }
            let body = UnsafeRawBufferPointer(rebasing: bytes[prefix.count ..< bytes.count - 8])
            try HistoryKey.checkGrouped(body, page: page)
            grouped.append(contentsOf: body)
            return ~UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
        }
        current = grouped
        return found
    }

    /// The version of the entry under the tree cursor if it is one of the key grouped as
    /// `grouped`, else nil.
    func versionIfEntry(of grouped: [UInt8]) throws -> UInt64? {
        let prefix = self.prefix
        return try tree.withKey { bytes -> UInt64? in
            guard bytes.count == prefix.count + grouped.count + 8,
                  prefix.withUnsafeBytes({ bytesEqual($0.baseAddress!, bytes.baseAddress!, count: prefix.count) }),
                  grouped.withUnsafeBytes({ bytesEqual($0.baseAddress!, bytes.baseAddress! + prefix.count, count: grouped.count) })
            else { return nil }
            return ~UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 8, as: UInt64.self))
        }
    }

    /// The value of the entry under the tree cursor, nil for a tombstone.
    func currentValue() throws -> FoundValue? {
        guard case let .stored(stored, leaf) = try tree.value() else {
            preconditionFailure("CowDB: history trees are read from written pages only")
        }
        return try HistoryValue.decode(stored, page: leaf).map { .stored($0, leafPage: leaf) }
    }

    /// Seeks the tree to the entry in force at `version` of the key grouped as `grouped`.
    mutating func seekCurrent(version: UInt64, of grouped: [UInt8]) throws -> Bool {
        probe.removeAll(keepingCapacity: true)
        probe += prefix
        probe += grouped
        withUnsafeBytes(of: (~version).bigEndian) { probe.append(contentsOf: $0) }
        return try probe.withUnsafeBytes { try tree.seek($0) }
    }

    /// Seeks the tree past every entry of the key grouped as `grouped`.
    mutating func seekPast(grouped: [UInt8]) throws -> Bool {
        probe.removeAll(keepingCapacity: true)
        probe += prefix
        probe += grouped
        HistoryKey.appendPastAllVersions(to: &probe)
        return try probe.withUnsafeBytes { try tree.seek($0) }
    }
}
