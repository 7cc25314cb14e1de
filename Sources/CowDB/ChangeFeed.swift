import CowDBFormat
import CowDBStorage
import Foundation

// The change feed: every commit after a given version, as the diff from the version before it,
// in order, then each new commit as it lands. A commit is the unit (one element per version,
// even when it changed nothing in the keyspace watched), and the last version processed is
// the resume token. The diffs run on CowDB's threads; a feed that has caught up parks in the
// database's CommitWatcher until the writer publishes again, in this process or another.

/// The changes one commit made to a keyspace: an element of ``ChangeFeed``.
public struct CommitChanges: Sendable, Equatable {
    /// The version the commit created.
    public let version: UInt64
    /// When it was committed.
    public let timestamp: Date
    /// What it changed in the keyspace watched, in key order, as `Database.diff` reports it
    /// from the version before; empty when it changed nothing there.
    public let entries: [DiffEntry]

    /// Changes of one commit (for tests and for consumers that build their own).
    public init(version: UInt64, timestamp: Date, entries: [DiffEntry]) {
        self.version = version
        self.timestamp = timestamp
        self.entries = entries
    }
}

/// Every commit after a version, in order, then each new one as it lands: the sequence
/// `Database.changes(after:keyspace:)` returns. Iterate it with `for try await`.
///
/// - A rollback is a commit like any other: its element holds the changes that restored the old content.
/// - A compaction (and automatic packing) keeps the versions it keeps, under the same numbers:
///   the feed goes on across it. When retention dropped a version before the feed delivered it
///   (or dropped the version before it, which its changes are computed against), the feed
///   throws `CowDBError.versionNotFound` naming the missing version.
/// - In a read-only process, the feed follows the writer of another process: a commit reaches
///   it shortly after the writer publishes it (the writer's publication wakes it; nothing polls).
/// - The feed ends (returns nil) when its task is cancelled, and throws `closed` once the
///   database is closed.
public struct ChangeFeed: AsyncSequence, Sendable {
    /// One commit's changes.
    public typealias Element = CommitChanges

    /// The database followed.
    let database: Database
    /// The version after which the feed starts.
    public let after: UInt64
    /// The keyspace watched (nil: the default keyspace).
    public let keyspace: String?

    /// An iterator starting after ``after``.
    public func makeAsyncIterator() -> Iterator { Iterator(database: database, delivered: after, keyspace: keyspace) }

    /// Delivers one commit's changes per call, waiting for the next commit when it has caught up.
    public struct Iterator: AsyncIteratorProtocol {
        let database: Database
        /// The last version delivered: where a new feed resumes (`changes(after:)`).
        public private(set) var delivered: UInt64
        let keyspace: String?
        /// Changes found but not yet delivered (a step reads several commits when it is behind).
        private var buffered: [CommitChanges] = []

        init(database: Database, delivered: UInt64, keyspace: String?) {
            self.database = database
            self.delivered = delivered
            self.keyspace = keyspace
        }

        /// The next commit's changes; waits for it when it has not been committed yet. Returns
        /// nil when the task is cancelled; throws `closed` once the database is closed and
        /// `versionNotFound` when retention dropped what it would deliver next.
        public mutating func next() async throws -> CommitChanges? {
            while buffered.isEmpty {
                if Task.isCancelled { return nil }
                let (database, after, keyspace) = (self.database, delivered, self.keyspace)
                let step: FeedStep
                do {
                    step = try await database.onWorker(.other) { _ in try database.feedStep(after: after, keyspace: keyspace) }
                } catch is CancellationError {
                    return nil
                }
                switch step {
                case let .changes(found): buffered = found
                case let .caughtUp(sequence): await database.watcher.wait(after: sequence)
                }
            }
            let changes = buffered.removeFirst()
            delivered = changes.version
            return changes
        }
    }
}

/// What one look for new commits found.
enum FeedStep: Sendable {
    /// The changes of the next commits, oldest first (at least one).
    case changes([CommitChanges])
    /// Nothing new: the publication sequence read before looking, to wait on.
    case caughtUp(UInt64)
}

extension Database {
    /// Commits read per step of a feed that is behind.
    static let feedBatch = 64

    /// A feed of every commit after version `after` (0: from the first), in order, then of each
    /// new commit as it lands, with what it changed in `keyspace` (nil: the default keyspace).
    ///
    /// ```swift
    /// for try await commit in db.changes(after: lastSeen) {
    ///     for entry in commit.entries { print(commit.version, entry) }
    ///     lastSeen = commit.version          // the resume token
    /// }
    /// ```
    ///
    /// Every commit yields one element, even one that changed nothing in `keyspace` (its
    /// `entries` are empty); a keyspace that does not exist at a commit counts as empty there.
    /// See ``ChangeFeed`` for rollbacks, compactions, cancellation and closing.
    public func changes(after version: UInt64, keyspace: String? = nil) -> ChangeFeed {
        ChangeFeed(database: self, after: version, keyspace: keyspace)
    }

    /// One look for commits after `after`: their changes (up to `feedBatch`), or the
    /// publication sequence to wait on when there are none. Blocking; runs on a worker.
    func feedStep(after: UInt64, keyspace: String?) throws -> FeedStep {
        // The sequence first: a commit published after it is read either in this look or
        // wakes the wait on it.
        let sequence = watcher.sequence
        let latest = try currentSource().version
        guard latest > after else { return .caughtUp(sequence) }
        var found: [CommitChanges] = []
        var version = after
        while version < latest, found.count < Self.feedBatch {
            version += 1
            found.append(try commitChanges(of: version, keyspace: keyspace))
        }
        return .changes(found)
    }

    /// What commit `version` changed in `keyspace`: the diff from the version before.
    func commitChanges(of version: UInt64, keyspace: String?) throws -> CommitChanges {
        let (old, new, view) = try sourcesAndView(at: version - 1, version)
        let timestamp = Date(timeIntervalSince1970: Double(new.timestamp) / 1e9)
        let walk: DiffWalk
        do {
            walk = try DiffWalk(old: old, new: new, scope: .one(keyspace), listed: try packedDiff(old, new, scope: .one(keyspace), in: view))
        } catch let CowDBError.keyspaceNotFound(name) where name == keyspace {
            return CommitChanges(version: version, timestamp: timestamp, entries: [])
        }
        let entries = try run(walk) { changes in
            var iterator = changes.makeIterator()
            var entries: [DiffEntry] = []
            while let entry = try iterator.nextOrThrow() { entries.append(entry) }
            return entries
        }
        return CommitChanges(version: version, timestamp: timestamp, entries: entries)
    }
}
