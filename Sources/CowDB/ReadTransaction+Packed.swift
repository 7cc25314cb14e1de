import CowDBFormat
import CowDBStorage
import CowDBTree

// The read path of a packed version (docs/PACKED-HISTORY.md): its source's commit is the pack
// commit, which only bounds the pages; the version's keys, values and keyspaces are read from
// the history tree (`ReadSource.packed`) through `HistoryCursor` (pair entries) and
// `HistoryCatalog` (catalog entries). Each read API branches once on `source.packed` into
// these functions; the trees' read path is untouched.

extension ReadTransaction {
    /// The packed version read (only called when `source.packed` is set).
    private var packedVersion: PackedVersion {
        guard let packed = source.packed else { preconditionFailure("CowDB: packed read of a version kept as trees") }
        return packed
    }

    /// A reader of the history tree's catalog entries at this version.
    private func packedCatalog() -> HistoryCatalog {
        HistoryCatalog(rootPage: packedVersion.historyRoot, pages: source.pages, version: packedVersion.version)
    }

    /// A cursor over keyspace `name` (nil: the default) of the history tree at this version.
    func historyCursor(in name: String?) -> HistoryCursor {
        HistoryCursor(rootPage: packedVersion.historyRoot, pages: source.pages, keyspace: Array((name ?? "").utf8),
                      version: packedVersion.version)
    }

    /// Keyspace `name`'s state at this packed version: no root (its pairs are in the history
    /// tree), its count from the catalog; throws `keyspaceNotFound` when it did not exist then.
    func packedCatalogEntry(_ name: String) throws -> TreeState {
        let key = Array(name.utf8)
        var catalog = packedCatalog()
        guard !key.isEmpty, key.count <= 255, let count = try catalog.count(of: key) else {
            throw CowDBError.keyspaceNotFound(name)
        }
        return TreeState(rootPage: 0, count: count)
    }

    /// The default keyspace's state at this packed version (its count read once, then kept).
    func packedDefaultTree() throws -> TreeState {
        if let count = packedDefaultCount { return TreeState(rootPage: 0, count: count) }
        var catalog = packedCatalog()
        let count = try catalog.count(of: []) ?? 0
        packedDefaultCount = count
        return TreeState(rootPage: 0, count: count)
    }

    /// Names of the named keyspaces at this packed version, in byte order.
    func packedKeyspaces() throws -> [String] {
        var catalog = packedCatalog()
        return try catalog.namedKeyspaces().map { name in
            guard let text = String(validating: name, as: UTF8.self) else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "history catalog holds a keyspace name that is not UTF-8")
            }
            return text
        }
    }

    /// Finds `key` (already validated) in keyspace `name` at this packed version.
    func packedFind(_ key: UnsafeRawBufferPointer, in name: String?) throws -> FoundValue? {
        _ = try tree(name) // the keyspace must exist at this version
        let packed = packedVersion
        return try HistoryCursor.get(rootPage: packed.historyRoot, pages: source.pages, keyspace: Array((name ?? "").utf8),
                                     key: key, version: packed.version)
    }

    /// `committedValue` at a packed version: the bytes of `key`'s value in the default
    /// keyspace (a view into the map, an overflow value's run included), or nil.
    func packedValue(for key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        guard let found = try packedFind(key, in: nil) else { return nil }
        return try BTree.withBytes(of: found, pages: source.pages) { $0 }
    }

    /// `withEntries` at a packed version: the pairs of `[from, to)` in keyspace `name`, keys
    /// strictly increasing (a damaged tree out of order throws), values as views into the map.
    func packedWithEntries(in name: String?, from: [UInt8]?, to: [UInt8]?, limit: Int,
                           _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        _ = try tree(name)
        var cursor = historyCursor(in: name)
        var more = try from.map { from in try from.withUnsafeBytes { try cursor.seek($0) } } ?? cursor.first()
        var left = limit
        var previous: [UInt8]?
        while more, let found = cursor.value {
            let key = cursor.key
            if let to, compareBytes(key, to) >= 0 { return }
            if let previous, compareBytes(previous, key) >= 0 {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "keys out of order in a range read of a packed version")
            }
            let keep = try key.withUnsafeBytes { key in try BTree.withBytes(of: found, pages: source.pages) { try body(key, $0) } }
            left -= 1
            guard keep, left > 0 else { return }
            previous = key
            more = try cursor.next()
        }
    }
}
