import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
#if canImport(Glibc)
import Glibc
#endif

/// Crashes at every write and sync boundary, failing disks and flipped bits, over
/// `FaultInjectionStorage` (an in-memory disk with a page cache).
///
/// The crash sweep runs a seeded random workload once to count its steps K (writes, syncs,
/// truncations, renames), then, for each crash point n in 1...K, runs it again on a fresh
/// disk that dies right after step n, builds the disk a crash leaves (the page cache for a
/// process crash; for a power cut the durable bytes alone, or with a random subset of the
/// unsynced writes, one of them torn, and each directory's synced or current entries),
/// reopens it and checks the outcome against the model. While a run goes, every `write` that
/// returns is checked too: one that changed something must have made exactly one new version
/// holding the model's content (a silently dropped commit stops the run as a failure), one
/// that changed nothing none; a compaction must keep the latest version as it was.
///
/// The packing sweep (CrashTests+Packing.swift) does the same over a workload that packs its
/// history and repacks it, sampling its crash points among the compactions' steps.
///
/// The concurrent-writer sweep (CrashTests+ConcurrentWriters.swift) crashes four threads making
/// single-pair `.full` commits while a fifth reads: every commit whose `write` returned, and
/// every version the reader saw, survives every image, and every version on the disk is a
/// consistent prefix of what the threads committed; its I/O error sweep fails one write or
/// sync under them (CrashTests+ConcurrentIOErrors.swift).
///
/// The recovery sweep crashes once more at every step of the next process (its recovery and
/// two commits); the I/O error sweep fails each write or sync of the workload in turn.
///
/// By default (about 40 s in debug) the crash sweep runs two workloads per durability, each
/// at up to `COWDB_CRASH_POINTS` (150) crash points (a seeded sample if it has more; the
/// workloads here have 170–200 steps), the recovery sweep 8 first crash points, the I/O error
/// sweep 60 faults. `COWDB_FULL_SWEEP=1` runs everything: every crash point of
/// `COWDB_SWEEP_WORKLOADS` (10) workloads with six power-cut images each, every first crash
/// point with both restarts, every failing write and sync. `COWDB_SEED` replays a seed,
/// `COWDB_CRASH_POINT=n` runs one crash point (with the seed, to replay a failure):
///
///     COWDB_FULL_SWEEP=1 swift test --filter CrashTests
final class CrashTests: XCTestCase {
    typealias Entries = [[UInt8]: [UInt8]]

    /// Every keyspace of a version: "" is the default keyspace.
    typealias State = ModelState

    enum Mutation {
        case put(space: String, key: [UInt8], value: [UInt8])
        case delete(space: String, key: [UInt8])
        case create(space: String)
    }

    enum Step {
        case commit([Mutation])
        /// Close the database and open it again (recovery runs with the writer's open-time writes).
        case reopen
        /// Compact, keeping the newest `keepLast` versions (nil: every version), packing
        /// those `packing` says into the history tree.
        case compact(keepLast: Int?, packing: Packing = .none)
    }

    // MARK: The workload

    /// A seeded workload: about 15 commits and a few hundred operations; puts, overwrites,
    /// deletes, values over 4 KiB (overflow runs; one over 256 KiB, written directly), two
    /// named keyspaces created mid-way, one commit large enough to spill leaves, one commit
    /// that changes nothing, a close and reopen in the middle, and a compaction keeping the
    /// last one to three versions.
    static func makeWorkload(seed: UInt64) -> [Step] {
        var random = SeededGenerator(seed: seed)
        var state = State()
        var steps: [Step] = []
        let commits = 15
        let createAlpha = Int.random(in: 2 ... 5, using: &random)
        let createBeta = Int.random(in: 7 ... 10, using: &random)
        let reopenBefore = Int.random(in: 4 ... 11, using: &random)
        let bulk = Int.random(in: 1 ..< commits, using: &random)
        let nothing = Int.random(in: 1 ..< commits, using: &random)
        let huge = Int.random(in: 0 ..< commits, using: &random)
        let compactBefore = Int.random(in: 5 ... 13, using: &random)
        let keepLast = Int.random(in: 1 ... 3, using: &random)
        for c in 0 ..< commits {
            if c == reopenBefore { steps.append(.reopen) }
            if c == compactBefore { steps.append(.compact(keepLast: keepLast)) }
            var mutations: [Mutation] = []
            if c == nothing && c != bulk && c != createAlpha && c != createBeta {
                steps.append(.commit([.delete(space: "", key: b("absent"))]))
                continue
            }
            if c == createAlpha { mutations.append(.create(space: "alpha")); state.spaces["alpha"] = [:] }
            if c == createBeta { mutations.append(.create(space: "beta")); state.spaces["beta"] = [:] }
            let count = c == bulk ? 250 : Int.random(in: 3 ... 28, using: &random)
            let spaces = state.spaces.keys.sorted()
            for i in 0 ..< count {
                let space = Int.random(in: 0 ..< 3, using: &random) == 0 ? spaces.randomElement(using: &random)! : spaces.first!
                let existing = state.spaces[space]!
                // Keys in memcmp order: a dictionary's order changes with each process's hash
                // seed, so picking from it would make the same seed give another workload.
                let existingKeys = existing.keys.sorted { $0.lexicographicallyPrecedes($1) }
                if Int.random(in: 0 ..< 5, using: &random) == 0 {
                    // Mostly a present key; sometimes an absent one.
                    let key = existingKeys.randomElement(using: &random) ?? b("\(space)-absent-\(i)")
                    mutations.append(.delete(space: space, key: key))
                    state.spaces[space]![key] = nil
                    continue
                }
                let key: [UInt8]
                if Int.random(in: 0 ..< 3, using: &random) == 0, let old = existingKeys.randomElement(using: &random) {
                    key = old // an overwrite
                } else if c == bulk {
                    key = b("\(space)-bulk-\(c)-\(i)")
                } else {
                    key = b("\(space)-key-\(Int.random(in: 0 ..< 400, using: &random))")
                }
                let value = random.bytes(valueSize(huge: c == huge && i == 0, bulk: c == bulk, &random))
                mutations.append(.put(space: space, key: key, value: value))
                state.spaces[space]![key] = value
            }
            steps.append(.commit(mutations))
        }
        return steps
    }

    /// A workload value's size: 300,000 bytes for the huge one, else one in eight over 4 KiB
    /// (an overflow run), else small (larger in the bulk commit).
    private static func valueSize(huge: Bool, bulk: Bool, _ random: inout SeededGenerator) -> Int {
        if huge { return 300_000 }
        if Int.random(in: 0 ..< 8, using: &random) == 0 { return Int.random(in: 4_100 ... 20_000, using: &random) }
        return bulk ? Int.random(in: 200 ... 900, using: &random) : Int.random(in: 0 ... 150, using: &random)
    }

    /// The same writes give the same data file (but for the header and the commit records,
    /// which hold the creation time and the timestamps): a seed must replay the same pages,
    /// so a crash image of one run is one of the next. A commit that spills leaves of several
    /// named keyspaces once wrote them in dictionary order, which changes between processes
    /// and between dictionaries.
    func testSameWritesGiveTheSameFile() throws {
        let names = (0 ..< 6).map { "space-\($0)" }
        var mutations: [Mutation] = []
        for i in 0 ..< 600 {
            mutations.append(.put(space: names[i % names.count], key: b("key-\(i)"), value: [UInt8](repeating: UInt8(i % 251), count: 300)))
        }
        /// The data file after creating the keyspaces and one commit that spills.
        func dataFile() throws -> [UInt8] {
            let directory = TemporaryDirectory()
            let path = directory.path("db")
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let backend = FaultInjectionStorage()
            let db = try openDatabase(path: path, options: Self.options(.none), backend: backend)
            try db.write { txn in for name in names { _ = try txn.createKeyspace(name) } }
            try db.write { try Self.apply(mutations, to: $0) }
            try db.close()
            return backend.contents(path + "/data")!
        }
        let first = try dataFile()
        let pageSize = 4096
        for trial in 0 ..< 6 {
            let again = try dataFile()
            XCTAssertEqual(again.count, first.count, "trial \(trial): file length")
            guard again.count == first.count else { continue }
            for page in 1 ..< first.count / pageSize where first[page * pageSize + PageHeader.kindOffset] != PageKind.commit.rawValue {
                let range = page * pageSize ..< (page + 1) * pageSize
                if first[range] != again[range] { XCTFail("trial \(trial): page \(page) differs"); break }
            }
        }
    }

    static func apply(_ mutations: [Mutation], to state: inout State) {
        for mutation in mutations {
            switch mutation {
            case let .put(space, key, value): state.spaces[space]![key] = value
            case let .delete(space, key): state.spaces[space]![key] = nil
            case let .create(space): state.spaces[space] = [:]
            }
        }
    }

    static func apply(_ mutations: [Mutation], to txn: WriteTransaction) throws {
        for mutation in mutations {
            switch mutation {
            case let .put(space, key, value):
                if space.isEmpty { try txn.put(key, value) } else { try txn.keyspace(space).put(key, value) }
            case let .delete(space, key):
                if space.isEmpty { try txn.delete(key) } else { try txn.keyspace(space).delete(key) }
            case let .create(space):
                _ = try txn.createKeyspace(space)
            }
        }
    }

    static func options(_ durability: DatabaseOptions.Durability) -> DatabaseOptions {
        var options = DatabaseOptions()
        options.durability = durability
        options.dirtyPageBudget = 16 * 4096 // the smallest budget: the bulk commit spills
        options.mapReservation = 1 << 30
        return options
    }

    /// What a (possibly crashed) run of the workload acknowledged.
    struct Outcome {
        /// The model at each version (index = version; 0 is empty).
        var models: [State] = [State()]
        /// The last version whose `write` returned.
        var acknowledged: UInt64 = 0
        /// The state the commit in flight would make (nil: no write was in flight).
        var inFlight: State?
        /// The last version known synced (a `.full` commit, a close, or an open).
        var durable: UInt64 = 0
        /// The error that stopped the run (nil: it ran to the end).
        var error: Error?
        /// What went wrong while the run tolerated I/O errors.
        var violations: [String] = []
        /// Versions a compaction that returned dropped (they must be gone).
        var dropped: Set<UInt64> = []
        /// Versions a compaction may have dropped (it was interrupted, or failed).
        var mayBeDropped: Set<UInt64> = []
        /// The steps (of the backend's count) each compaction of the run took.
        var compactionSteps: [ClosedRange<Int>] = []

        /// The outcome of a database recovered at version `version` (the commit in flight
        /// included when `version` is past the acknowledged ones), as a start for more work;
        /// `allDurable` when the machine restarts from a disk image (everything on it is
        /// durable), else (a process crash) only what was durable before is.
        func recovered(at version: UInt64, allDurable: Bool) -> Outcome {
            var start = Outcome()
            start.models = Array(models.prefix(Int(min(version, acknowledged)) + 1))
            if version > acknowledged, let inFlight { start.models.append(inFlight) }
            start.acknowledged = UInt64(start.models.count - 1)
            start.durable = allDurable ? start.acknowledged : min(durable, start.acknowledged)
            start.dropped = dropped
            start.mayBeDropped = mayBeDropped
            return start
        }
    }

    /// Whether a transaction of `mutations` changes something for the engine (which then
    /// commits a version): any put or keyspace creation, or the deletion of a present key.
    static func changes(_ mutations: [Mutation], _ state: State) -> Bool {
        for mutation in mutations {
            switch mutation {
            case .put, .create: return true
            case let .delete(space, key):
                if state.spaces[space]?[key] != nil { return true }
            }
        }
        return false
    }

    /// How many versions the workload's commits make (those that change something).
    static func versionsMade(by workload: [Step]) -> UInt64 {
        var state = State()
        var made: UInt64 = 0
        for case let .commit(mutations) in workload {
            if changes(mutations, state) { made += 1 }
            apply(mutations, to: &state)
        }
        return made
    }

    /// Ends a run whose database no longer matches the model.
    struct HarnessStop: Error {
        var reason: String
    }
}
