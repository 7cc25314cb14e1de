import CLMDB
import Foundation

// A thin wrapper over LMDB's C API for tests: LMDB is the reference CowDB is compared with.
// Single-threaded use only. The environment is opened with MDB_NOTLS (several read
// transactions may live on one thread) and MDB_NOSYNC (no fsync: tests need no durability).

/// A failed LMDB call: which call, and LMDB's error code and message.
struct LMDBError: Error, CustomStringConvertible {
    let operation: String
    let code: Int32

    var description: String { "LMDB \(operation) failed: \(String(cString: mdb_strerror(code))) (\(code))" }

    /// Throws unless `code` is MDB_SUCCESS.
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws {
        if code != MDB_SUCCESS { throw LMDBError(operation: operation(), code: code) }
    }
}

/// One entry as LMDB (and CowDB) return it.
typealias LMDBEntry = (key: [UInt8], value: [UInt8])

/// Calls `body` with an `MDB_val` describing `bytes` (never a null pointer, even when empty).
private func withMDBVal<R>(_ bytes: [UInt8], _ body: (inout MDB_val) throws -> R) rethrows -> R {
    var copy = bytes
    var placeholder: UInt8 = 0
    if copy.isEmpty {
        return try withUnsafeMutablePointer(to: &placeholder) { pointer in
            var val = MDB_val(mv_size: 0, mv_data: UnsafeMutableRawPointer(pointer))
            return try body(&val)
        }
    }
    return try copy.withUnsafeMutableBytes { buffer in
        var val = MDB_val(mv_size: buffer.count, mv_data: buffer.baseAddress)
        return try body(&val)
    }
}

/// The bytes an `MDB_val` points at, copied.
private func bytes(of val: MDB_val) -> [UInt8] {
    guard val.mv_size > 0, let data = val.mv_data else { return [] }
    return Array(UnsafeRawBufferPointer(start: data, count: val.mv_size))
}

/// An LMDB environment (one directory holding `data.mdb` and `lock.mdb`).
final class LMDBEnvironment {
    private(set) var env: OpaquePointer?

    /// Opens (creating when missing) the environment in directory `path`.
    init(path: String, mapSize: Int = 1 << 30, maxDatabases: UInt32 = 16, maxReaders: UInt32 = 126) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "mdb_env_create")
        do {
            try LMDBError.check(mdb_env_set_mapsize(env, mapSize), "mdb_env_set_mapsize")
            try LMDBError.check(mdb_env_set_maxdbs(env, maxDatabases), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(env, maxReaders), "mdb_env_set_maxreaders")
            try LMDBError.check(mdb_env_open(env, path, UInt32(MDB_NOTLS) | UInt32(MDB_NOSYNC), 0o644), "mdb_env_open \(path)")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.env = env
    }

    /// Begins a write transaction (LMDB allows one at a time).
    func beginWrite() throws -> LMDBTransaction { try LMDBTransaction(env: env, readOnly: false) }

    /// Begins a read transaction: a stable snapshot of the latest commit, for as long as it lives.
    func beginRead() throws -> LMDBTransaction { try LMDBTransaction(env: env, readOnly: true) }

    /// Closes the environment; every transaction must have ended. Calling it twice is harmless.
    func close() {
        if let env { mdb_env_close(env) }
        env = nil
    }

    deinit { close() }
}

/// An LMDB transaction: read-only (`MDB_RDONLY`) or the one writer.
final class LMDBTransaction {
    private(set) var txn: OpaquePointer?
    let readOnly: Bool

    fileprivate init(env: OpaquePointer?, readOnly: Bool) throws {
        self.readOnly = readOnly
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "mdb_txn_begin")
        self.txn = txn
    }

    var isActive: Bool { txn != nil }

    /// Commits (a read transaction's commit just ends it).
    func commit() throws {
        guard let txn else { throw LMDBError(operation: "commit of an ended transaction", code: EINVAL) }
        self.txn = nil
        try LMDBError.check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    /// Aborts; harmless on an ended transaction.
    func abort() {
        if let txn { mdb_txn_abort(txn) }
        txn = nil
    }

    deinit { abort() }

    // MARK: Databases

    /// Opens named database `name` (nil: the main database, whose keys are the names of the
    /// named databases). Returns nil when it does not exist and `create` is false.
    func openDatabase(_ name: String?, create: Bool = false) throws -> MDB_dbi? {
        var dbi: MDB_dbi = 0
        let flags: UInt32 = create ? UInt32(MDB_CREATE) : 0
        let rc = name.map { mdb_dbi_open(txn, $0, flags, &dbi) } ?? mdb_dbi_open(txn, nil, flags, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_dbi_open \(name ?? "<main>")")
        return dbi
    }

    /// Empties (`delete` false) or deletes and closes (`delete` true) a database.
    func drop(_ dbi: MDB_dbi, delete: Bool) throws {
        try LMDBError.check(mdb_drop(txn, dbi, delete ? 1 : 0), "mdb_drop")
    }

    /// Entries in a database (`mdb_stat`). Also loads the database's root into this
    /// transaction, after which the handle stays usable here even if the database is later
    /// dropped (and its handle closed) by a writer.
    func count(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try LMDBError.check(mdb_stat(txn, dbi, &stat), "mdb_stat")
        return stat.ms_entries
    }

    // MARK: Entries

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> [UInt8]? {
        try withMDBVal(key) { k in
            var v = MDB_val()
            let rc = mdb_get(txn, dbi, &k, &v)
            if rc == MDB_NOTFOUND { return nil }
            try LMDBError.check(rc, "mdb_get")
            return bytes(of: v)
        }
    }

    /// Stores `value` under `key`, replacing any value.
    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws {
        try withMDBVal(key) { k in
            try withMDBVal(value) { v in try LMDBError.check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put") }
        }
    }

    /// Stores `value` under `key` only if absent (`MDB_NOOVERWRITE`); returns whether it did.
    func insert(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws -> Bool {
        try withMDBVal(key) { k in
            try withMDBVal(value) { v in
                let rc = mdb_put(txn, dbi, &k, &v, UInt32(MDB_NOOVERWRITE))
                if rc == MDB_KEYEXIST { return false }
                try LMDBError.check(rc, "mdb_put(MDB_NOOVERWRITE)")
                return true
            }
        }
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> Bool {
        try withMDBVal(key) { k in
            let rc = mdb_del(txn, dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try LMDBError.check(rc, "mdb_del")
            return true
        }
    }

    // MARK: Cursors

    /// Runs `body` with a cursor on `dbi`, closed afterwards.
    func withCursor<R>(_ dbi: MDB_dbi, _ body: (LMDBCursor) throws -> R) throws -> R {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open")
        let wrapper = LMDBCursor(cursor: cursor)
        defer { mdb_cursor_close(cursor) }
        return try body(wrapper)
    }

    /// Every entry of `dbi`, ascending (MDB_FIRST, MDB_NEXT…).
    func allEntries(_ dbi: MDB_dbi) throws -> [LMDBEntry] {
        try withCursor(dbi) { cursor in
            var result: [LMDBEntry] = []
            var entry = try cursor.first()
            while let found = entry {
                result.append(found)
                entry = try cursor.next()
            }
            return result
        }
    }

    /// Every entry of `dbi`, descending (MDB_LAST, MDB_PREV…).
    func allEntriesReversed(_ dbi: MDB_dbi) throws -> [LMDBEntry] {
        try withCursor(dbi) { cursor in
            var result: [LMDBEntry] = []
            var entry = try cursor.last()
            while let found = entry {
                result.append(found)
                entry = try cursor.previous()
            }
            return result
        }
    }
}

/// An LMDB cursor, valid inside `LMDBTransaction.withCursor`. Each move returns the entry it
/// lands on, or nil (MDB_NOTFOUND).
struct LMDBCursor {
    fileprivate let cursor: OpaquePointer?

    func first() throws -> LMDBEntry? { try move(MDB_FIRST) }
    func last() throws -> LMDBEntry? { try move(MDB_LAST) }
    func next() throws -> LMDBEntry? { try move(MDB_NEXT) }
    func previous() throws -> LMDBEntry? { try move(MDB_PREV) }

    /// The first entry whose key is ≥ `key` (MDB_SET_RANGE).
    func seek(to key: [UInt8]) throws -> LMDBEntry? {
        try withMDBVal(key) { k in
            var v = MDB_val()
            let rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            if rc == MDB_NOTFOUND { return nil }
            try LMDBError.check(rc, "mdb_cursor_get(MDB_SET_RANGE)")
            return (bytes(of: k), bytes(of: v))
        }
    }

    private func move(_ op: MDB_cursor_op) throws -> LMDBEntry? {
        var k = MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "mdb_cursor_get(\(op.rawValue))")
        return (bytes(of: k), bytes(of: v))
    }
}
