// Composite keys of the packed history tree (docs/PACKED-HISTORY.md, FORMAT.md). They sort,
// as plain bytes, in the order the history needs:
//
//   pair entry     0x01 ‖ esc(keyspace) ‖ grp(key) ‖ BE64(~version)
//   catalog entry  0x02 ‖ esc(keyspace)             ‖ BE64(~version)
//   change index   0x03 ‖ BE64(version) ‖ esc(keyspace) ‖ grp(key)
//
// esc(name) (keyspace names, ≤ 255 bytes): every 0x00 byte becomes 0x00 0xFF, and 0x00 0x00
// ends the field. So a name sorts before every longer name it is a prefix of (at the
// terminator, 0x00 0x00 is below both 0x00 0xFF and any byte ≥ 0x01), and two escaped names
// compare like the names: the FoundationDB tuple layer's rule. The default keyspace is the
// empty name.
//
// grp(key) (user keys): groups of 8 bytes, the last one padded with zeros, each followed by a
// marker: 0xFF after a group that is not the last, 0xF0 + n after the last, which holds n
// bytes (1 … 8; 0 only for an empty key). A variant of the memcomparable encoding of TiKV and
// MyRocks whose last group may be full, so a key whose length is a multiple of 8 takes no
// extra group. Order-preserving and prefix-free like escaping (equal group bytes: the shorter
// key's marker is the smaller), but bounded (9 bytes per 8 started): escaping could double a
// key past any entry limit.
//
// The version is stored inverted and big-endian, so that a key's newest entry comes first:
// the entry in force at version V is the first entry at or after pair(ks, key, V).

/// Encoding and decoding of the history tree's composite keys.
package enum HistoryKey {
    /// The first byte of each kind of entry.
    package enum Kind: UInt8, Sendable {
        case pair = 0x01
        case catalog = 0x02
        case change = 0x03
    }

    /// A decoded composite key (the fields unescaped).
    package struct Decoded: Equatable, Sendable {
        package var kind: Kind
        package var keyspace: [UInt8]
        /// Empty for a catalog entry.
        package var key: [UInt8]
        package var version: UInt64

        /// Memberwise.
        package init(kind: Kind, keyspace: [UInt8], key: [UInt8], version: UInt64) {
            (self.kind, self.keyspace, self.key, self.version) = (kind, keyspace, key, version)
        }
    }

    // MARK: Encoding

    /// Appends `esc(field)` to `out`.
    package static func appendEscaped(_ field: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for byte in field {
            out.append(byte)
            if byte == 0 { out.append(0xFF) }
        }
        out.append(0)
        out.append(0)
    }

    /// Bytes `grp(key)` takes.
    package static func groupedCount(_ keyLength: Int) -> Int { max(1, (keyLength + 7) / 8) * 9 }

    /// Appends `grp(key)` to `out`.
    package static func appendGrouped(_ key: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var start = 0
        while true {
            let take = min(8, key.count - start)
            if take > 0 { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[start ..< start + take])) }
            start += take
            if start < key.count {
                out.append(0xFF)
                continue
            }
            for _ in take ..< 8 { out.append(0) }
            out.append(0xF0 + UInt8(take))
            return
        }
    }

    /// Appends a big-endian u64.
    private static func appendBigEndian(_ value: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }

    /// The key of `key`'s entry in `keyspace` at `version`, replacing `out`'s contents (a
    /// buffer reused from call to call allocates only when it must grow).
    package static func pair(keyspace: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, version: UInt64, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(Kind.pair.rawValue)
        appendEscaped(keyspace, to: &out)
        appendGrouped(key, to: &out)
        appendBigEndian(~version, to: &out)
    }

    /// The key of `keyspace`'s catalog entry (created or dropped) at `version`.
    package static func catalog(keyspace: UnsafeRawBufferPointer, version: UInt64, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(Kind.catalog.rawValue)
        appendEscaped(keyspace, to: &out)
        appendBigEndian(~version, to: &out)
    }

    /// The change-index key saying that `version` changed `key` in `keyspace`.
    package static func change(version: UInt64, keyspace: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(Kind.change.rawValue)
        appendBigEndian(version, to: &out)
        appendEscaped(keyspace, to: &out)
        appendGrouped(key, to: &out)
    }

    /// A byte string above every pair entry of `key` in `keyspace` and below the entries of
    /// every greater key: where a scan goes on after `key` (`grp(key)` then nine 0xFF bytes,
    /// above any 8-byte version; `grp` is prefix-free, so a greater key's encoding differs
    /// from this one's within `grp(key)` and is greater there).
    package static func afterAllVersions(keyspace: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        out.append(Kind.pair.rawValue)
        appendEscaped(keyspace, to: &out)
        appendGrouped(key, to: &out)
        appendPastAllVersions(to: &out)
    }

    /// Appends, after `0x01 ‖ esc(keyspace) ‖ grp(key)`, what makes it `afterAllVersions`:
    /// nine 0xFF bytes, above any 8-byte version.
    package static func appendPastAllVersions(to out: inout [UInt8]) {
        for _ in 0 ..< 9 { out.append(0xFF) }
    }

    /// The bytes of a decoded key (its encoding again).
    package static func encode(_ decoded: Decoded) -> [UInt8] {
        var out: [UInt8] = []
        decoded.keyspace.withUnsafeBytes { ks in
            decoded.key.withUnsafeBytes { key in
                switch decoded.kind {
                case .pair: pair(keyspace: ks, key: key, version: decoded.version, into: &out)
                case .catalog: catalog(keyspace: ks, version: decoded.version, into: &out)
                case .change: change(version: decoded.version, keyspace: ks, key: key, into: &out)
                }
            }
        }
        return out
    }

    // MARK: Decoding (bytes from disk: untrusted)

    /// Decodes a composite key read from history page `page`; throws `corrupt` naming the page
    /// when it is not one (unknown kind, a field without its terminator, a zero byte followed
    /// by anything but 0x00 or 0xFF, a wrong length for the version).
    package static func decode(_ bytes: UnsafeRawBufferPointer, page: PageNumber) throws -> Decoded {
        guard let first = bytes.first, let kind = Kind(rawValue: first) else {
            throw CowDBError.corruptPage(page, "history key of unknown kind \(bytes.first.map(String.init) ?? "(empty)")")
        }
        var offset = 1
        var version: UInt64 = 0
        if kind == .change { version = try bigEndian(bytes, at: &offset, page: page) }
        let keyspace = try unescape(bytes, at: &offset, page: page)
        let key = kind == .catalog ? [] : try ungroup(bytes, at: &offset, page: page)
        if kind != .change { version = ~(try bigEndian(bytes, at: &offset, page: page)) }
        guard offset == bytes.count else {
            throw CowDBError.corruptPage(page, "history key has \(bytes.count - offset) bytes past its last field")
        }
        return Decoded(kind: kind, keyspace: keyspace, key: key, version: version)
    }

    /// Reads an escaped field at `offset` (moving it past the terminator) and returns it unescaped.
    private static func unescape(_ bytes: UnsafeRawBufferPointer, at offset: inout Int, page: PageNumber) throws -> [UInt8] {
        var field: [UInt8] = []
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            guard byte == 0 else { field.append(byte); continue }
            guard offset < bytes.count else { break }
            let next = bytes[offset]
            offset += 1
            if next == 0 { return field }
            guard next == 0xFF else {
                throw CowDBError.corruptPage(page, "history key escapes a zero byte with \(next), not 0xFF")
            }
            field.append(0)
        }
        throw CowDBError.corruptPage(page, "history key field has no terminator")
    }

    /// Checks that `grouped` is exactly one `grp(key)`: whole groups, 0xFF markers but the
    /// last, a last marker 0xF0 … 0xF8 with zero padding; throws `corrupt` naming `page`.
    @inlinable
    package static func checkGrouped(_ grouped: UnsafeRawBufferPointer, page: PageNumber) throws {
        let groups = grouped.count / 9
        guard groups > 0, grouped.count == groups * 9 else { throw CowDBError.corruptPage(page, "history key of \(grouped.count) grouped bytes") }
        for i in 0 ..< groups - 1 where grouped[i * 9 + 8] != 0xFF {
            throw CowDBError.corruptPage(page, "history key group with marker \(grouped[i * 9 + 8])")
        }
        let last = (groups - 1) * 9, marker = grouped[last + 8]
        guard marker >= 0xF0, marker <= 0xF8 else { throw CowDBError.corruptPage(page, "history key group with marker \(marker)") }
        for i in Int(marker - 0xF0) ..< 8 where grouped[last + i] != 0 {
            throw CowDBError.corruptPage(page, "history key group padded with bytes other than zero")
        }
    }

    /// The key `grouped` (checked by `checkGrouped`) encodes.
    package static func ungrouped(_ grouped: [UInt8], page: PageNumber) throws -> [UInt8] {
        var offset = 0
        return try grouped.withUnsafeBytes { try ungroup($0, at: &offset, page: page) }
    }

    /// Reads a grouped key at `offset` (moving it past its last group) and returns it.
    private static func ungroup(_ bytes: UnsafeRawBufferPointer, at offset: inout Int, page: PageNumber) throws -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(min(bytes.count - offset, 16_384))
        while bytes.count - offset >= 9 {
            let marker = bytes[offset + 8]
            if marker == 0xFF {
                key.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + 8]))
                offset += 9
                continue
            }
            guard marker >= 0xF0, marker <= 0xF8 else { throw CowDBError.corruptPage(page, "history key group with marker \(marker)") }
            let take = Int(marker - 0xF0)
            guard bytes[(offset + take) ..< (offset + 8)].allSatisfy({ $0 == 0 }) else {
                throw CowDBError.corruptPage(page, "history key group padded with bytes other than zero")
            }
            key.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + take]))
            offset += 9
            return key
        }
        throw CowDBError.corruptPage(page, "history key ends inside a key group")
    }

    /// Reads a big-endian u64 at `offset` (moving it past).
    private static func bigEndian(_ bytes: UnsafeRawBufferPointer, at offset: inout Int, page: PageNumber) throws -> UInt64 {
        guard bytes.count - offset >= 8 else {
            throw CowDBError.corruptPage(page, "history key ends inside its version (\(bytes.count - offset) of 8 bytes)")
        }
        defer { offset += 8 }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
