// LMDB through its C API: `mdb_get` and a cursor (`MDB_SET_RANGE`, `MDB_NEXT`) on the mapped
// bytes, default sync settings (a commit syncs the data and then the meta page), `MDB_NOTLS`
// so read transactions are not tied to threads.
import CLMDB

/// An LMDB environment with one unnamed database.
final class LMDBEngine: Engine, @unchecked Sendable {
    // @unchecked: an environment is safe to share between threads; with MDB_NOTLS each
    // thread's read transactions are its own, and writes are serialized by LMDB.

    /// The map size: address space reserved for the data file (it grows as written).
    static let mapSize = 64 << 30
    /// The environment.
    private let environment: OpaquePointer
    /// The unnamed database's handle.
    private let database: MDB_dbi

    init(directory: String) throws {
        var env: OpaquePointer?
        try LMDBEngine.check(mdb_env_create(&env), "mdb_env_create")
        guard let env else { throw EngineError(description: "mdb_env_create returned no environment") }
        environment = env
        try LMDBEngine.check(mdb_env_set_mapsize(env, LMDBEngine.mapSize), "mdb_env_set_mapsize")
        try LMDBEngine.check(mdb_env_open(env, directory, UInt32(MDB_NOTLS), 0o644), "mdb_env_open")
        var txn: OpaquePointer?
        try LMDBEngine.check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
        var dbi: MDB_dbi = 0
        try LMDBEngine.check(mdb_dbi_open(txn, nil, 0, &dbi), "mdb_dbi_open")
        try LMDBEngine.check(mdb_txn_commit(txn), "mdb_txn_commit")
        database = dbi
    }

    func write(_ pairs: Range<Int>, of data: Dataset) throws {
        try writeTransaction { txn in
            var buffers = PairBuffers()
            for i in pairs {
                buffers.load(i, from: data)
                try buffers.key.withUnsafeBytes { k in
                    try buffers.value.withUnsafeBytes { v in
                        var key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                        var value = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                        try LMDBEngine.check(mdb_put(txn, database, &key, &value, 0), "mdb_put")
                    }
                }
            }
        }
    }

    func remove(_ pairs: Range<Int>, of data: Dataset) throws -> Int {
        var removed = 0
        try writeTransaction { txn in
            var buffers = PairBuffers()
            for i in pairs {
                buffers.loadKey(i, from: data)
                let rc = buffers.key.withUnsafeBytes { k in
                    var key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                    return mdb_del(txn, database, &key, nil)
                }
                if rc == MDB_NOTFOUND { continue }
                try LMDBEngine.check(rc, "mdb_del")
                removed += 1
            }
        }
        return removed
    }

    func read<R>(_ body: (inout Reader) throws -> R) throws -> R {
        var txn: OpaquePointer?
        try LMDBEngine.check(mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
        defer { mdb_txn_abort(txn) }
        var cursor: OpaquePointer?
        try LMDBEngine.check(mdb_cursor_open(txn, database, &cursor), "mdb_cursor_open")
        defer { mdb_cursor_close(cursor) }
        var reader = Reader(transaction: txn, database: database, cursor: cursor)
        return try body(&reader)
    }

    func handleForAnotherThread() throws -> LMDBEngine { self }

    func close() throws { mdb_env_close(environment) }

    /// Runs `body` in a write transaction and commits it (aborts on a throw).
    private func writeTransaction(_ body: (OpaquePointer?) throws -> Void) throws {
        var txn: OpaquePointer?
        try LMDBEngine.check(mdb_txn_begin(environment, nil, 0, &txn), "mdb_txn_begin")
        do {
            try body(txn)
        } catch {
            mdb_txn_abort(txn)
            throw error
        }
        try LMDBEngine.check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    /// Throws LMDB's message for a non-zero return code.
    static func check(_ rc: Int32, _ call: String) throws {
        if rc != 0 { throw EngineError(description: "\(call): \(String(cString: mdb_strerror(rc)))") }
    }

    /// Reads of one LMDB read transaction, through `mdb_get` and one cursor.
    struct Reader: EngineReader {
        /// The read transaction.
        let transaction: OpaquePointer?
        /// The database read.
        let database: MDB_dbi
        /// A cursor of the transaction, reused by every range read.
        let cursor: OpaquePointer?

        mutating func get(_ key: [UInt8]) throws -> UInt64? {
            var value = MDB_val()
            let rc = key.withUnsafeBytes { k in
                var key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                return mdb_get(transaction, database, &key, &value)
            }
            if rc == MDB_NOTFOUND { return nil }
            try LMDBEngine.check(rc, "mdb_get")
            return byteSum(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        }

        mutating func range(from key: [UInt8], count: Int) throws -> UInt64 {
            var sum: UInt64 = 0
            var k = MDB_val(), v = MDB_val()
            var rc = key.withUnsafeBytes { bytes in
                k = MDB_val(mv_size: bytes.count, mv_data: UnsafeMutableRawPointer(mutating: bytes.baseAddress))
                return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            }
            var seen = 0
            while rc == 0, seen < count {
                sum &+= byteSum(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size))
                sum &+= byteSum(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
                seen += 1
                if seen < count { rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT) }
            }
            if rc != 0, rc != MDB_NOTFOUND { try LMDBEngine.check(rc, "mdb_cursor_get") }
            return sum
        }
    }
}
