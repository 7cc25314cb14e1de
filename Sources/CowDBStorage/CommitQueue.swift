import CowDBFormat

// Group commit's bookkeeping: the commits a generation's writer has appended to the data file
// but not yet made durable and published, and who is syncing them. Generation+Publish.swift
// is the protocol; this is its state, behind a pthread mutex and condition variable (seen by
// Thread Sanitizer, like `Locked`).
//
// Lock order: the writer gate, then this lock, then the generation's head lock. Nobody holds
// this lock across I/O.

/// A commit appended but not yet published, by its sequence number in the generation.
package struct CommitTicket: Sendable {
    /// The commit's place in the order of appends (1 for the generation's first).
    package let sequence: UInt64
    /// The commit as appended.
    package let point: CommitPoint
}

/// The appended, unpublished commits and the sync that covers them.
final class CommitQueue: @unchecked Sendable {
    /// One appended commit, waiting for a sync and publication.
    struct Entry {
        let sequence: UInt64
        let point: CommitPoint
        /// The map covering it (what readers get once it is published).
        let mapping: MappedRegion
        /// Whether its caller asked for durability (`.full`).
        let durable: Bool
    }

    /// What the lock guards.
    struct State {
        /// The newest appended commit and its map: what the next commit builds on.
        var tip: CommitPoint?
        var tipMapping: MappedRegion
        /// Appended and not yet published, oldest first.
        var entries: [Entry] = []
        /// The sequence of the newest appended commit, and of the newest published one.
        var appended: UInt64 = 0
        var published: UInt64 = 0
        /// Whether a leader is syncing and publishing a group (at most one at a time).
        var syncing = false
        /// Set when a group's sync failed: every commit not yet published fails with it.
        var failure: (any Error)?
        /// The data file's length as the writer left it: past the tip, the reserve of zeros
        /// (Generation+Reserve.swift). Under the writer gate.
        var fileEnd: UInt64 = 0
    }

    private let mutex = OSMutex()
    private let condition = OSCondition()
    /// Only between `lock()` and `unlock()`.
    var state: State

    /// Starts with the recovered head as the tip.
    init(tip: CommitPoint?, mapping: MappedRegion) {
        state = State(tip: tip, tipMapping: mapping)
    }

    deinit {
        condition.destroy()
        mutex.destroy()
    }

    /// Takes the lock.
    func lock() { mutex.lock() }
    /// Releases the lock.
    func unlock() { mutex.unlock() }
    /// Waits for `broadcast`, releasing the lock meanwhile (held again on return).
    func wait() { condition.wait(releasing: mutex) }
    /// Wakes every waiter.
    func broadcast() { condition.broadcast() }

    /// Runs `body` with the state under the lock.
    func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body(&state)
    }
}
