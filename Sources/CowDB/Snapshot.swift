import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

/// A long-lived, `Sendable` read view of one version. Each call opens a fresh read
/// transaction on it, so a snapshot may be used from several threads at once.
/// Close it when done: `Database.close()` refuses while snapshots are open.
public final class Snapshot: @unchecked Sendable {
    let database: Database
    let source: ReadSource
    private let closed = Locked(false)

    init(database: Database, source: ReadSource) {
        self.database = database
        self.source = source
    }

    /// The version this snapshot reads.
    public var version: UInt64 { source.version }

    /// Runs `body` in a read transaction on this snapshot's version; throws `closed` after
    /// `close()` (as a closed `Database` does).
    public func read<T>(_ body: (ReadTransaction) throws -> T) throws -> T {
        guard !closed.withLock({ $0 }) else { throw CowDBError.closed }
        let txn = ReadTransaction(source: source)
        defer { txn.invalidate() }
        let result = try body(txn)
        if let error = txn.pendingError { throw error }
        return result
    }

    /// The value under `key` in the default keyspace.
    public func get<Key: ByteRepresentable>(_ key: Key) throws -> [UInt8]? { try read { try $0.get(key) } }

    /// The value under `key` in a named keyspace.
    public func get<Key: ByteRepresentable>(_ key: Key, keyspace: String) throws -> [UInt8]? {
        try read { try $0.keyspace(keyspace).get(key) }
    }

    /// The value under `key` in the default keyspace (or a named one) decoded as `type`;
    /// throws `typeMismatch` when the stored bytes are not a `type`.
    public func get<Key: ByteRepresentable, Value: ByteRepresentable>(_ key: Key, keyspace: String? = nil, as type: Value.Type) throws -> Value? {
        try read { txn in try keyspace.map { try txn.keyspace($0).get(key, as: type) } ?? txn.get(key, as: type) }
    }

    /// Entries in `[from, to)` of the default keyspace, collected into an array.
    public func scan<From: ByteRepresentable, To: ByteRepresentable>(from: From? = [UInt8]?.none, to: To? = [UInt8]?.none,
                                                                   reverse: Bool = false) throws -> [(key: [UInt8], value: [UInt8])] {
        try read { Array(try $0.scan(from: from, to: to, reverse: reverse)) }
    }

    /// Names of the named keyspaces.
    public func keyspaces() throws -> [String] { try read { try $0.keyspaces() } }

    /// Releases the snapshot. Calling it twice is harmless.
    public func close() {
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        if !wasClosed { database.snapshotClosed() }
    }

    deinit { close() }
}

