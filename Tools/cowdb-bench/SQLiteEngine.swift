// SQLite through its C API: one `WITHOUT ROWID` table of BLOB key → BLOB value, WAL mode,
// `synchronous=FULL` (every commit durable), write transactions begun `IMMEDIATE` with a 10 s
// busy timeout (so that writers on several connections wait for each other instead of failing
// with SQLITE_BUSY), prepared statements, values read in place with
// `sqlite3_column_blob`; tuned for reads as a user would: the whole file memory-mapped
// (`mmap_size`) and a 64 MiB page cache.
import CSQLite
import Foundation

/// One SQLite connection to `kv.sqlite` in the engine's directory.
final class SQLiteEngine: Engine, @unchecked Sendable {
    // @unchecked: a connection is opened with SQLITE_OPEN_NOMUTEX and used by one thread at
    // a time; another thread, reading or writing, gets its own connection (`handleForAnotherThread`).

    /// The database file's name inside the directory.
    static let fileName = "kv.sqlite"
    /// The directory.
    private let directory: String
    /// The connection.
    private let connection: OpaquePointer
    /// `INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)`.
    private let insert: OpaquePointer
    /// `DELETE FROM kv WHERE key = ?`.
    private let delete: OpaquePointer
    /// `SELECT value FROM kv WHERE key = ?`.
    private let select: OpaquePointer
    /// `SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?`.
    private let selectRange: OpaquePointer

    /// How long a connection waits for another's write lock before failing: 10 s.
    static let busyTimeoutMilliseconds = 10000
    /// The page cache: 64 MiB (in KiB, as a negative `cache_size` takes it).
    static let pageCacheKiB = 64 * 1024
    /// The map asked for: 1 TiB, which SQLite lowers to its compile-time maximum.
    static let mapRequest: Int64 = 1 << 40

    init(directory: String) throws {
        self.directory = directory
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(directory + "/" + SQLiteEngine.fileName, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw EngineError(description: "sqlite3_open_v2: \(message)")
        }
        connection = db
        try SQLiteEngine.execute(db, "PRAGMA journal_mode=WAL")
        try SQLiteEngine.execute(db, "PRAGMA synchronous=FULL")
        try SQLiteEngine.execute(db, "PRAGMA busy_timeout=\(SQLiteEngine.busyTimeoutMilliseconds)")
        try SQLiteEngine.execute(db, "PRAGMA cache_size=-\(SQLiteEngine.pageCacheKiB)")
        try SQLiteEngine.execute(db, "PRAGMA mmap_size=\(SQLiteEngine.mapRequest)")
        try SQLiteEngine.requireMapCovers(db, directory + "/" + SQLiteEngine.fileName)
        try SQLiteEngine.execute(db, "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID")
        insert = try SQLiteEngine.prepare(db, "INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)")
        delete = try SQLiteEngine.prepare(db, "DELETE FROM kv WHERE key = ?")
        select = try SQLiteEngine.prepare(db, "SELECT value FROM kv WHERE key = ?")
        selectRange = try SQLiteEngine.prepare(db, "SELECT key, value FROM kv WHERE key >= ? ORDER BY key LIMIT ?")
    }

    func write(_ pairs: Range<Int>, of data: Dataset) throws {
        try transaction {
            var buffers = PairBuffers()
            for i in pairs {
                buffers.load(i, from: data)
                try buffers.key.withUnsafeBytes { k in
                    try buffers.value.withUnsafeBytes { v in
                        sqlite3_bind_blob(insert, 1, k.baseAddress, Int32(k.count), nil)
                        sqlite3_bind_blob(insert, 2, v.baseAddress, Int32(v.count), nil)
                        try step(insert, expecting: SQLITE_DONE)
                    }
                }
            }
        }
    }

    func remove(_ pairs: Range<Int>, of data: Dataset) throws -> Int {
        var removed = 0
        try transaction {
            var buffers = PairBuffers()
            for i in pairs {
                buffers.loadKey(i, from: data)
                try buffers.key.withUnsafeBytes { k in
                    sqlite3_bind_blob(delete, 1, k.baseAddress, Int32(k.count), nil)
                    try step(delete, expecting: SQLITE_DONE)
                }
                removed += Int(sqlite3_changes(connection))
            }
        }
        return removed
    }

    func read<R>(_ body: (inout Reader) throws -> R) throws -> R {
        // A deferred transaction: the first SELECT starts one read snapshot for all the reads.
        try SQLiteEngine.execute(connection, "BEGIN")
        defer { _ = try? SQLiteEngine.execute(connection, "COMMIT") }
        var reader = Reader(engine: self)
        return try body(&reader)
    }

    func handleForAnotherThread() throws -> SQLiteEngine { try SQLiteEngine(directory: directory) }

    func close() throws {
        for statement in [insert, delete, select, selectRange] { sqlite3_finalize(statement) }
        let rc = sqlite3_close(connection)
        if rc != SQLITE_OK { throw EngineError(description: "sqlite3_close: \(String(cString: sqlite3_errstr(rc)))") }
    }

    // MARK: Helpers

    /// Runs `body` between BEGIN IMMEDIATE (the write lock taken first, waited for up to the
    /// busy timeout) and COMMIT (ROLLBACK on a throw).
    private func transaction(_ body: () throws -> Void) throws {
        try SQLiteEngine.execute(connection, "BEGIN IMMEDIATE")
        do {
            try body()
        } catch {
            _ = try? SQLiteEngine.execute(connection, "ROLLBACK")
            throw error
        }
        try SQLiteEngine.execute(connection, "COMMIT")
    }

    /// Steps `statement` once, requires `expected`, and resets it when done.
    private func step(_ statement: OpaquePointer, expecting expected: Int32) throws {
        let rc = sqlite3_step(statement)
        sqlite3_reset(statement)
        if rc != expected { throw error("sqlite3_step") }
    }

    /// The connection's last error.
    fileprivate func error(_ call: String) -> EngineError {
        EngineError(description: "\(call): \(String(cString: sqlite3_errmsg(connection)))")
    }

    /// Runs one SQL statement without results.
    private static func execute(_ db: OpaquePointer, _ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(db, sql, nil, nil, &message) != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(message)
            throw EngineError(description: "\(sql): \(text)")
        }
    }

    /// Requires the map SQLite granted (`PRAGMA mmap_size`, after its compile-time cap) to cover
    /// the database file as it is now, so that every read can go through the map.
    private static func requireMapCovers(_ db: OpaquePointer, _ path: String) throws {
        let statement = try prepare(db, "PRAGMA mmap_size")
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { throw EngineError(description: "PRAGMA mmap_size returned no row") }
        let granted = sqlite3_column_int64(statement, 0)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        guard granted >= size, granted > 0 else {
            throw EngineError(description: "SQLite maps \(granted) bytes, less than the database's \(size)")
        }
    }

    /// Compiles `sql` once.
    private static func prepare(_ db: OpaquePointer, _ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK, let statement else {
            throw EngineError(description: "prepare \(sql): \(String(cString: sqlite3_errmsg(db)))")
        }
        return statement
    }

    /// Reads of one SQLite read transaction, through the prepared SELECTs.
    struct Reader: EngineReader {
        /// The engine whose statements are used.
        let engine: SQLiteEngine

        mutating func get(_ key: [UInt8]) throws -> UInt64? {
            let statement = engine.select
            defer { sqlite3_reset(statement) }
            // Bound without a copy (SQLITE_STATIC), so stepped while the key's bytes are pinned.
            return try key.withUnsafeBytes { k -> UInt64? in
                sqlite3_bind_blob(statement, 1, k.baseAddress, Int32(k.count), nil)
                switch sqlite3_step(statement) {
                case SQLITE_ROW:
                    return byteSum(SQLiteEngine.column(statement, 0))
                case SQLITE_DONE:
                    return nil
                default:
                    throw engine.error("sqlite3_step")
                }
            }
        }

        mutating func range(from key: [UInt8], count: Int) throws -> UInt64 {
            let statement = engine.selectRange
            defer { sqlite3_reset(statement) }
            return try key.withUnsafeBytes { k -> UInt64 in
                sqlite3_bind_blob(statement, 1, k.baseAddress, Int32(k.count), nil)
                sqlite3_bind_int(statement, 2, Int32(count))
                var sum: UInt64 = 0
                while true {
                    let rc = sqlite3_step(statement)
                    if rc == SQLITE_DONE { return sum }
                    guard rc == SQLITE_ROW else { throw engine.error("sqlite3_step") }
                    sum &+= byteSum(SQLiteEngine.column(statement, 0)) &+ byteSum(SQLiteEngine.column(statement, 1))
                }
            }
        }
    }

    /// The bytes of blob column `index` of the current row, in SQLite's memory (valid until
    /// the next step or reset).
    fileprivate static func column(_ statement: OpaquePointer, _ index: Int32) -> UnsafeRawBufferPointer {
        let bytes = sqlite3_column_blob(statement, index)
        let count = Int(sqlite3_column_bytes(statement, index))
        return UnsafeRawBufferPointer(start: bytes, count: count)
    }
}
