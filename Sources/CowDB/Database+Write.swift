import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Writing: the writer gate, and a write transaction from its start to its commit through
// `Generation.commit`, the one commit path (Generation+Commit.swift lists its steps).

extension Database {
    /// A write transaction committed as a given version at a given time (compaction's).
    func write<T>(forced: WriteTransaction.ForcedCommit, _ body: (WriteTransaction) throws -> T) throws -> T {
        try withWriterGate { _, _ in try writeLocked(forced: forced, body) }
    }

    /// The body of `write`, under the writer gate: runs `body`, then commits what it changed
    /// (or, when it throws or changes nothing, cuts off what it appended).
    func writeLocked<T>(forced: WriteTransaction.ForcedCommit? = nil, _ body: (WriteTransaction) throws -> T) throws -> T {
        let generation = self.generation
        let region = try generation.beginCommit(verifyEveryRead: options.checksumVerification == .everyRead)
        let source = makeSource(generation, region.base, mapping: region.appender.currentMapping)
        let txn = try WriteTransaction(source: source, appender: region.appender, options: options)
        defer { txn.invalidate() }
        let result: T
        do {
            result = try body(txn)
            if let error = txn.pendingError { throw error }
        } catch {
            try? generation.abandon(region)
            throw error
        }
        guard txn.hasChanges || forced != nil else {
            try generation.abandon(region)
            return result
        }
        let stamp = forced.map { CommitStamp(carried: ($0.version, $0.timestamp), rolledBackFrom: $0.rolledBackFrom) } ?? .next
        _ = try commit(region, in: generation, stamp: stamp) { try txn.writeTrees() }
        if forced == nil { considerAutomaticCompaction() }
        return result
    }

    /// Commits `region` through `Generation.commit` (the one commit path) with this
    /// database's durability and the wall clock. Under the writer gate.
    func commit(_ region: CommitRegion, in generation: Generation, stamp: CommitStamp,
                writeTrees: () throws -> CommitRoots) throws -> CommitPoint {
        try generation.commit(region, stamp: stamp, now: nanosecondsSince1970(Date()), durable: options.durability == .full,
                              writeTrees: writeTrees)
    }

    /// Runs `body` under the writer gate with the latest commit and mapping (for commits made
    /// outside a write transaction, such as a rollback). Throws like `write` would.
    func withWriterGate<T>(_ body: (CommitPoint?, MappedRegion) throws -> T) throws -> T {
        let me = UInt(pthread_self())
        precondition(writerThread.load(ordering: .relaxed) != me, "CowDB: nested write on the same thread")
        if options.readOnly { throw CowDBError.readOnly }
        writerGate.lock()
        writerThread.store(me, ordering: .relaxed)
        defer {
            writerThread.store(0, ordering: .relaxed)
            writerGate.unlock()
        }
        let (latest, mapping) = try currentGeneration().writerHead()
        return try body(latest, mapping)
    }
}
