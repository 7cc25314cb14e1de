import Foundation

// The async API: the blocking calls, run on CowDB's own threads (WorkerPool.swift) while the
// calling task is suspended, so that a transaction or an `fdatasync` never holds a thread of
// Swift's cooperative pool. In an async context these overloads are the ones chosen, so a call
// without `await` does not compile; the blocking forms stay for threads that may block.

extension Database {
    /// Runs `body` in a write transaction on one of CowDB's threads and commits its changes as
    /// one new version when it returns, as the blocking `write(_:)` does.
    ///
    /// ```swift
    /// try await db.write { txn in try txn.put(Array("k".utf8), Array("v".utf8)) }
    /// ```
    ///
    /// Cancellation is honoured until the commit starts: a task cancelled before the transaction
    /// begins, or while `body` runs, gets `CancellationError` and commits nothing. Once the
    /// commit has started it completes (it cannot be taken back), and the call returns its result.
    /// Returns once the version is durable (with `.full` durability) and visible to readers.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (WriteTransaction) throws -> T) async throws -> T {
        try await onWorker(.write) { cancelled in
            try self.write { txn in
                try cancelled.check()
                let result = try body(txn)
                try cancelled.check()
                return result
            }
        }
    }

    /// Runs `body` on the latest committed version, on one of CowDB's threads.
    /// A task cancelled before the read starts gets `CancellationError`.
    public func read<T: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        try await onWorker(.other) { _ in try self.read(body) }
    }

    /// Runs `body` on version `version`, on one of CowDB's threads.
    /// Throws `versionNotFound` for a version the database does not have.
    public func read<T: Sendable>(at version: UInt64, _ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        try await onWorker(.other) { _ in try self.read(at: version, body) }
    }

    /// Runs `body` on the last version committed at or before `date`, on one of CowDB's threads.
    public func read<T: Sendable>(asOf date: Date, _ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        try await onWorker(.other) { _ in try self.read(asOf: date, body) }
    }

    /// Compacts the database (see the blocking `compact(keeping:packing:)`) on one of CowDB's
    /// threads. A task cancelled before the compaction starts gets `CancellationError`; once
    /// started, it runs to the end.
    @discardableResult
    public func compact(keeping policy: RetentionPolicy = RetentionPolicy(), packing: Packing = .none) async throws -> CompactionReport {
        try await onWorker(.other) { _ in try self.compact(keeping: policy, packing: packing) }
    }

    /// Backs the database up to `destination` (see the blocking `backup(to:full:)`) on one of
    /// CowDB's threads. A task cancelled before the backup starts gets `CancellationError`.
    @discardableResult
    public func backup(to destination: String, full: Bool = false) async throws -> BackupReport {
        try await onWorker(.other) { _ in try self.backup(to: destination, full: full) }
    }
}
