import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

// Writing: the writer gate, and a write transaction from its start to its commit through
// `Generation.commit`, the one commit path (Generation+Commit.swift lists its steps).

extension Database {
    /// A write transaction committed as a given version at a given time (compaction's).
    func write<T>(forced: WriteTransaction.ForcedCommit, _ body: (WriteTransaction) throws -> T) throws -> T {
        try withWriterGate { _, _ in
            let (result, ticket) = try writeLocked(forced: forced, body)
            if let ticket { try generation.awaitPublished(ticket) }
            return result
        }
    }

    /// The body of `write`, under the writer gate: runs `body`, then appends what it changed
    /// (or, when it throws or changes nothing, cuts off what it appended). Returns the queued
    /// commit (nil: none), which the caller awaits (`Generation.awaitPublished`).
    func writeLocked<T>(forced: WriteTransaction.ForcedCommit? = nil, _ body: (WriteTransaction) throws -> T) throws -> (T, CommitTicket?) {
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
            return (result, nil)
        }
        let stamp = forced.map { CommitStamp(carried: ($0.version, $0.timestamp), rolledBackFrom: $0.rolledBackFrom) } ?? .next
        let ticket = try append(region, in: generation, stamp: stamp) { try txn.writeTrees() }
        if forced == nil { considerAutomaticCompaction() }
        return (result, ticket)
    }

    /// Appends `region` through `Generation.commit` (the one commit path) with this
    /// database's durability and the wall clock, under the writer gate, and returns the queued
    /// commit for the caller to await (after leaving the gate, to share its sync).
    func append(_ region: CommitRegion, in generation: Generation, stamp: CommitStamp,
                writeTrees: () throws -> CommitRoots) throws -> CommitTicket {
        try generation.commit(region, stamp: stamp, now: nanosecondsSince1970(Date()), durable: options.durability == .full,
                              writeTrees: writeTrees)
    }

    /// Commits `region` (`append`) and waits until it is durable and published, under the
    /// writer gate (commits made outside a write transaction: a rollback, a built version).
    func commit(_ region: CommitRegion, in generation: Generation, stamp: CommitStamp,
                writeTrees: () throws -> CommitRoots) throws -> CommitPoint {
        let ticket = try append(region, in: generation, stamp: stamp, writeTrees: writeTrees)
        try generation.awaitPublished(ticket)
        return ticket.point
    }

    /// Runs `body` under the writer gate with the latest commit and mapping (for commits made
    /// outside a write transaction, such as a rollback). Throws like `write` would (`busy` when
    /// this thread is inside one already). Every
    /// commit queued for a sync is published first (`settled`; `write` alone builds on
    /// commits still waiting for theirs, and passes false).
    func withWriterGate<T>(settled: Bool = true, _ body: (CommitPoint?, MappedRegion) throws -> T) throws -> T {
        let me = OS.currentThread()
        if writerThread.load(ordering: .relaxed) == me { throw CowDBError.busy("nested write on the same thread (it would wait for itself)") }
        if options.readOnly { throw CowDBError.readOnly }
        writerGate.lock()
        writerThread.store(me, ordering: .relaxed)
        defer {
            writerThread.store(0, ordering: .relaxed)
            writerGate.unlock()
        }
        let generation = try currentGeneration()
        if settled { try generation.drainCommits() }
        let (latest, mapping) = try generation.writerHead()
        return try body(latest, mapping)
    }
}
