// CowDB through its public API: gets through the zero-copy `withValue`, range reads through
// the zero-copy `withEntries`.
import CowDB
import Foundation

/// A CowDB database with the default options: one `fdatasync` per commit.
final class CowDBEngine: Engine {
    /// The open database.
    let database: Database
    /// The database's directory.
    let directory: String

    init(directory: String) throws {
        self.directory = directory
        database = try Database(path: directory)
    }

    /// Opens the database in `directory` with `options` (the history workload's fast commits).
    init(directory: String, options: DatabaseOptions) throws {
        self.directory = directory
        database = try Database(path: directory, options: options)
    }

    func write(_ pairs: Range<Int>, of data: Dataset) throws {
        var buffers = PairBuffers()
        try database.write { txn in
            for i in pairs {
                buffers.load(i, from: data)
                try txn.put(buffers.key, buffers.value)
            }
        }
    }

    func remove(_ pairs: Range<Int>, of data: Dataset) throws -> Int {
        var buffers = PairBuffers()
        return try database.write { txn in
            var removed = 0
            for i in pairs {
                buffers.loadKey(i, from: data)
                if try txn.delete(buffers.key) { removed += 1 }
            }
            return removed
        }
    }

    func read<R>(_ body: (inout Reader) throws -> R) throws -> R {
        try database.read { txn in
            var reader = Reader(transaction: txn)
            return try body(&reader)
        }
    }

    /// Runs `body` in one read transaction of version `version`.
    func read<R>(at version: UInt64, _ body: (inout Reader) throws -> R) throws -> R {
        try database.read(at: version) { txn in
            var reader = Reader(transaction: txn)
            return try body(&reader)
        }
    }

    /// The bytes the database has written: the data file's length at the latest version plus
    /// the length of the index file(s) (`index`, `index.G`: one 64-byte record per commit).
    func bytesWritten() throws -> UInt64 {
        let data = try database.versions().last?.fileLength ?? 0
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var index: UInt64 = 0
        for name in names where name == "index" || name.hasPrefix("index.") {
            var info = stat()
            if stat(directory + "/" + name, &info) == 0 { index += UInt64(info.st_size) }
        }
        return data + index
    }

    /// Writes pairs `pairs` of `data` in one transaction, each value with its first 8 bytes
    /// replaced by `stamp` (little-endian): an overwrite that differs from the loaded value.
    func overwrite(_ pairs: some Sequence<Int>, of data: Dataset, stamp: UInt64) throws {
        var buffers = PairBuffers()
        try database.write { txn in
            for i in pairs {
                buffers.load(i, from: data)
                buffers.stamp(stamp)
                try txn.put(buffers.key, buffers.value)
            }
        }
    }

    func handleForAnotherThread() throws -> CowDBEngine { self }

    func close() throws { try database.close() }

    /// Reads of one CowDB read transaction.
    struct Reader: EngineReader {
        /// The transaction read.
        let transaction: ReadTransaction

        mutating func get(_ key: [UInt8]) throws -> UInt64? {
            try transaction.withValue(for: key) { byteSum($0) }
        }

        mutating func range(from key: [UInt8], count: Int) throws -> UInt64 {
            var sum: UInt64 = 0
            try transaction.withEntries(from: key, limit: count) { key, value in
                sum &+= byteSum(key) &+ byteSum(value)
                return true
            }
            return sum
        }
    }
}
