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
    struct State: Equatable {
        var spaces: [String: Entries] = ["": [:]]
    }

    enum Mutation {
        case put(space: String, key: [UInt8], value: [UInt8])
        case delete(space: String, key: [UInt8])
        case create(space: String)
    }

    enum Step {
        case commit([Mutation])
        /// Close the database and open it again (recovery runs with the writer's open-time writes).
        case reopen
        /// Compact, keeping the newest `keepLast` versions.
        case compact(keepLast: Int)
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
                let size: Int
                if c == huge && i == 0 {
                    size = 300_000
                } else if Int.random(in: 0 ..< 8, using: &random) == 0 {
                    size = Int.random(in: 4_100 ... 20_000, using: &random)
                } else {
                    size = c == bulk ? Int.random(in: 200 ... 900, using: &random) : Int.random(in: 0 ... 150, using: &random)
                }
                let value = random.bytes(size)
                mutations.append(.put(space: space, key: key, value: value))
                state.spaces[space]![key] = value
            }
            steps.append(.commit(mutations))
        }
        return steps
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

    /// Runs the workload on `backend` from `start` until it ends or an operation throws.
    ///
    /// With `tolerateFaults` it behaves like an application on a failing disk instead: a
    /// commit that throws an I/O error is dropped (a failed `pwrite` must leave no version);
    /// after a failed sync, or a close that fails, the database is closed and opened again,
    /// and a commit whose sync failed counts if recovery kept it; an open that fails is retried.
    static func run(_ workload: [Step], backend: FaultInjectionStorage, path: String, durability: DatabaseOptions.Durability,
                    from start: Outcome = Outcome(), tolerateFaults: Bool = false) -> Outcome {
        var outcome = start
        var db: Database?
        /// A commit whose sync failed: present after the reopen or not.
        var uncertain: State?

        func open() throws {
            db = nil // the old instance must be gone: it may still hold the writer lock
            var attempt = 0
            while true {
                do {
                    db = try Database(path: path, options: options(durability), backend: backend) // unchecked-open: the static crash harness (no XCTestCase); verify() opens and checks every image it leaves
                    break
                } catch let error as CowDBError {
                    guard tolerateFaults, case .io = error, attempt < 3 else { throw error }
                    attempt += 1
                }
            }
            let latest = db!.latestVersion
            if latest == outcome.acknowledged + 1, let pending = uncertain {
                outcome.models.append(pending)
                outcome.acknowledged = latest
            } else if latest != outcome.acknowledged {
                outcome.violations.append("reopened at version \(latest) with \(outcome.acknowledged) acknowledged")
            }
            uncertain = nil
            outcome.durable = outcome.acknowledged // recovery syncs a tail it was not sure of
        }

        /// A `write` returned normally: a transaction that changed something made exactly one
        /// new version holding `next` (anything else, a silently dropped commit included, is a
        /// violation); one that changed nothing made none.
        func acknowledge(_ mutations: [Mutation], making next: State) throws {
            let latest = db!.latestVersion
            guard Self.changes(mutations, outcome.models.last!) else {
                if latest != outcome.acknowledged {
                    outcome.violations.append("a commit that changed nothing moved version \(outcome.acknowledged) to \(latest)")
                }
                return
            }
            guard latest == outcome.acknowledged + 1 else {
                let violation = "a commit that returned made version \(latest) after \(outcome.acknowledged)"
                outcome.violations.append(violation)
                throw HarnessStop(reason: violation) // the model no longer follows the database
            }
            outcome.models.append(next)
            outcome.acknowledged += 1
            if durability == .full { outcome.durable = outcome.acknowledged }
            let (state, order) = try db!.read(at: latest) { try readState($0) }
            outcome.violations += order.map { "version \(latest) as committed: \($0)" }
            if state != next { outcome.violations.append("version \(latest) as committed reads back wrong: \(difference(state, next))") }
        }

        func close() throws {
            do {
                try db?.close()
                outcome.durable = outcome.acknowledged
            } catch let error as CowDBError {
                guard tolerateFaults, case .io = error else { throw error }
                try open()
                try db!.close()
                outcome.durable = outcome.acknowledged
            }
            db = nil
        }

        do {
            try open()
            for step in workload {
                switch step {
                case .reopen:
                    try close()
                    try open()
                case let .compact(keepLast):
                    let latest = outcome.acknowledged
                    let droppable = latest > UInt64(keepLast) ? Set(1 ... latest - UInt64(keepLast)) : []
                    outcome.mayBeDropped.formUnion(droppable)
                    do {
                        try db!.compact(keeping: RetentionPolicy(keepLast: keepLast, keepTags: false))
                        outcome.dropped.formUnion(droppable)
                        outcome.durable = outcome.acknowledged // the new generation was synced whole
                        // Compaction keeps the latest version as it was.
                        let (state, _) = try db!.read(at: latest) { try readState($0) }
                        if db!.latestVersion != latest || state != outcome.models.last! {
                            outcome.violations.append("compaction moved the latest version from \(latest) to \(db!.latestVersion) or changed it")
                        }
                    } catch let error as CowDBError where tolerateFaults {
                        guard case .io = error else { throw error }
                        try close() // the old or the new generation: either keeps every acknowledged version's content
                        try open()
                    }
                case let .commit(mutations):
                    // An application retries a commit that failed (the faults are one-shot).
                    var attempts = 0
                    while true {
                        let acknowledgedBefore = outcome.acknowledged
                        var next = outcome.models.last!
                        apply(mutations, to: &next)
                        outcome.inFlight = next
                        do {
                            try db!.write { try apply(mutations, to: $0) }
                        } catch let error as CowDBError where tolerateFaults && attempts < 3 {
                            attempts += 1
                            outcome.inFlight = nil
                            guard case let .io(operation, _, _) = error else { throw error }
                            if db!.latestVersion != outcome.acknowledged {
                                outcome.violations.append("a commit that threw \(error) made version \(db!.latestVersion)")
                            }
                            if operation == "fdatasync" {
                                // The writer is poisoned; the commit may or may not be on disk.
                                uncertain = next
                                do {
                                    try db!.write { try $0.put(b("poisoned?"), b("")) }
                                    outcome.violations.append("a write after a failed sync succeeded")
                                } catch let error as CowDBError {
                                    if case .writerPoisoned = error {} else { outcome.violations.append("after a failed sync, a write threw \(error)") }
                                }
                                try close()
                                try open()
                                if outcome.acknowledged > acknowledgedBefore { break } // recovery kept it
                            }
                            continue
                        }
                        outcome.inFlight = nil
                        try acknowledge(mutations, making: next)
                        break
                    }
                }
            }
            try close()
        } catch {
            outcome.error = error
        }
        return outcome
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

    // MARK: Checking a recovered database

    /// Reads every keyspace of a version.
    static func readState(_ txn: ReadTransaction) throws -> (State, [String]) {
        var state = State()
        var problems: [String] = []
        func collect(_ entries: ScanSequence, _ space: String) {
            var dictionary = Entries()
            var previous: [UInt8]?
            for (key, value) in entries {
                if let previous, !previous.lexicographicallyPrecedes(key) { problems.append("keyspace \(space.debugDescription): keys out of order") }
                previous = key
                dictionary[key] = value
            }
            state.spaces[space] = dictionary
        }
        collect(try txn.scan(), "")
        for name in try txn.keyspaces() { collect(try txn.keyspace(name).scan(), name) }
        return (state, problems)
    }

    /// What differs between two states (for messages).
    static func difference(_ got: State, _ expected: State) -> String {
        if Set(got.spaces.keys) != Set(expected.spaces.keys) {
            return "keyspaces \(got.spaces.keys.sorted()) instead of \(expected.spaces.keys.sorted())"
        }
        for space in expected.spaces.keys.sorted() where got.spaces[space] != expected.spaces[space] {
            let g = got.spaces[space]!, e = expected.spaces[space]!
            let missing = e.keys.filter { g[$0] == nil }.count
            let extra = g.keys.filter { e[$0] == nil }.count
            let wrong = e.keys.filter { g[$0] != nil && g[$0] != e[$0] }.count
            return "keyspace \(space.debugDescription): \(g.count) entries instead of \(e.count) (\(missing) missing, \(extra) extra, \(wrong) wrong values)"
        }
        return "equal"
    }

    /// How strictly a recovered database is judged.
    enum Expectation {
        /// Latest is the acknowledged commit or the one in flight (nothing acknowledged lost).
        case exact
        /// Latest is between the last durable commit and the one in flight (`.none` and a power cut).
        case atLeastDurable
    }

    /// Opens `image` on a fresh backend and checks it; returns what was wrong (empty: nothing).
    static func verify(_ image: DiskImage, path: String, durability: DatabaseOptions.Durability, outcome: Outcome,
                       expectation: Expectation) -> [String] {
        verifyReturningLatest(image, path: path, durability: durability, outcome: outcome, expectation: expectation).problems
    }

    /// `verify`, also returning the version the database opened at.
    static func verifyReturningLatest(_ image: DiskImage, path: String, durability: DatabaseOptions.Durability, outcome: Outcome,
                                      expectation: Expectation) -> (problems: [String], latest: UInt64?) {
        var problems: [String] = []
        var opened: UInt64?
        let backend = FaultInjectionStorage(image: image)
        do {
            let db = try Database(path: path, options: options(durability), backend: backend) // unchecked-open: static (no XCTestCase); it checks every version itself, below
            defer { try? db.close() }
            let latest = db.latestVersion
            opened = latest
            let highest = outcome.acknowledged + (outcome.inFlight == nil ? 0 : 1)
            let lowest = expectation == .exact ? outcome.acknowledged : outcome.durable
            guard latest >= lowest, latest <= highest else {
                return (["latest version \(latest), expected \(lowest == highest ? "\(lowest)" : "\(lowest)...\(highest)") (acknowledged \(outcome.acknowledged), in flight: \(outcome.inFlight != nil), durable \(outcome.durable))"], latest)
            }
            let versions = try db.versions().map(\.version)
            let all = Set(latest == 0 ? [] : Array(1 ... latest))
            let missing = all.subtracting(versions)
            if !Set(versions).isSubset(of: all) || !missing.isSubset(of: outcome.mayBeDropped) || !outcome.dropped.isSubset(of: missing) {
                problems.append("versions \(versions) instead of 1...\(latest) less the dropped \(outcome.dropped.sorted()) (maybe \(outcome.mayBeDropped.sorted()))")
            }
            for version in [0] + versions {
                let expected = version <= outcome.acknowledged ? outcome.models[Int(version)] : outcome.inFlight!
                do {
                    let (state, order) = try db.read(at: version) { try readState($0) }
                    problems += order.map { "version \(version): \($0)" }
                    if state != expected { problems.append("version \(version) reads back wrong: \(difference(state, expected))") }
                } catch {
                    problems.append("version \(version) unreadable: \(error)")
                }
            }
            let report = try db.checkReport(allVersions: true)
            if !report.isClean { problems.append("check: \(report.problems.prefix(3))") }
            // The recovered database takes a new commit.
            try db.write { try $0.put(b("after-recovery"), b("\(latest)")) }
            if db.latestVersion != latest + 1 { problems.append("commit after recovery made version \(db.latestVersion)") }
            if try db.read({ try $0.get(b("after-recovery")) }) != b("\(latest)") { problems.append("commit after recovery reads back wrong") }
        } catch {
            problems.append("\(error)")
        }
        return (problems, opened)
    }

    // MARK: The sweep

    struct SweepFailure {
        var seed: UInt64
        var point: Int
        var image: String
        var problems: [String]
    }

    /// The crash sweep for one durability. Default: two workloads (seeds printed), up to
    /// `COWDB_CRASH_POINTS` (150) of its crash points, a seeded sample when it has more.
    /// `COWDB_FULL_SWEEP=1`: every crash point of `COWDB_SWEEP_WORKLOADS` (10) workloads,
    /// with `COWDB_POWER_CUTS` (default 2, full sweep 6) power-cut images per point.
    func sweep(durability: DatabaseOptions.Durability, name: String) throws {
        let environment = ProcessInfo.processInfo.environment
        let full = environment["COWDB_FULL_SWEEP"] == "1"
        let firstSeed = testSeed(name)
        let workloads = environment["COWDB_SWEEP_WORKLOADS"].flatMap(Int.init) ?? (full ? 10 : 2)
        let powerCuts = environment["COWDB_POWER_CUTS"].flatMap(Int.init) ?? (full ? 6 : 2)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // for the real lock file
        let started = Date()
        var failures: [SweepFailure] = []
        var pointsTried = 0, stepsInAll = 0, images = 0, inFlightKept = 0, inFlightDropped = 0, olderDurable = 0

        for w in 0 ..< workloads {
            let seed = firstSeed &+ UInt64(w)
            let workload = Self.makeWorkload(seed: seed)
            // The clean run: counts the steps and gives the expected outcome.
            let counter = FaultInjectionStorage()
            let clean = Self.run(workload, backend: counter, path: path, durability: durability)
            if let error = clean.error { XCTFail("\(name) seed \(seed): the workload fails without faults: \(error)"); return }
            XCTAssertEqual(clean.violations, [], "\(name) seed \(seed): the workload without faults")
            let total = counter.counts.steps
            stepsInAll += total
            XCTAssertEqual(clean.acknowledged, Self.versionsMade(by: workload), "every commit that changes something makes a version")
            XCTAssertGreaterThanOrEqual(clean.acknowledged, 12, "the workload commits enough versions")

            var points: [Int]
            if let one = environment["COWDB_CRASH_POINT"].flatMap(Int.init) {
                points = [one]
            } else if full {
                points = Array(1 ... total)
            } else {
                let sample = environment["COWDB_CRASH_POINTS"].flatMap(Int.init) ?? 150
                var random = SeededGenerator(seed: seed ^ 0x5EED)
                points = Array(Array(1 ... total).shuffled(using: &random).prefix(sample)).sorted()
            }

            for point in points {
                pointsTried += 1
                let backend = FaultInjectionStorage()
                backend.crash(afterStep: point)
                // The run may finish without an error: the steps after `point` can be ones
                // whose failure the engine tolerates (the index record's write).
                let outcome = Self.run(workload, backend: backend, path: path, durability: durability)
                if !outcome.violations.isEmpty {
                    failures.append(SweepFailure(seed: seed, point: point, image: "while running", problems: outcome.violations))
                }
                var random = SeededGenerator(seed: seed &+ UInt64(point) &* 0x9E37_79B9)
                var kinds: [(String, FaultInjectionStorage.ImageKind, Expectation)] = [("process crash", .processCrash, .exact)]
                switch durability {
                case .full:
                    kinds.append(("durable only", .durableOnly, .exact))
                    for i in 0 ..< powerCuts {
                        let cut = random.next()
                        kinds.append(("power cut \(cut)\(i % 2 == 1 ? " torn" : "")", .powerCut(seed: cut, tear: i % 2 == 1), .exact))
                    }
                case .none:
                    // Nothing unsynced reached the disk: every version known synced (by a close,
                    // an open or a compaction) must still be there.
                    kinds.append(("durable only", .durableOnly, .atLeastDurable))
                    for _ in 0 ..< max(1, powerCuts / 2) {
                        let cut = random.next()
                        kinds.append(("power cut \(cut) torn", .powerCut(seed: cut, tear: true), .atLeastDurable))
                    }
                }
                for (label, kind, expectation) in kinds {
                    images += 1
                    let (problems, latest) = Self.verifyReturningLatest(backend.image(kind), path: path, durability: durability,
                                                                        outcome: outcome, expectation: expectation)
                    if let latest, outcome.inFlight != nil {
                        if latest > outcome.acknowledged { inFlightKept += 1 } else if latest == outcome.acknowledged { inFlightDropped += 1 }
                    }
                    if let latest, latest < outcome.acknowledged { olderDurable += 1 }
                    if !problems.isEmpty { failures.append(SweepFailure(seed: seed, point: point, image: label, problems: problems)) }
                }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let summary = "\(name): \(workloads) workload(s) from seed \(firstSeed), \(stepsInAll) steps (writes, syncs, truncations, renames); "
            + "tried \(pointsTried) crash points, \(images) crash images (commit in flight kept in \(inFlightKept), dropped in \(inFlightDropped); "
            + "opened below the last acknowledged commit in \(olderDurable)), in \(String(format: "%.1f", seconds)) s"
        print(summary)
        FileHandle.standardError.write(Data((summary + "\n").utf8))
        for failure in failures.prefix(10) {
            XCTFail("\(name) crash point \(failure.point) (COWDB_SEED=\(failure.seed) COWDB_CRASH_POINT=\(failure.point)), \(failure.image): \(failure.problems.prefix(4).joined(separator: "; "))")
        }
        if failures.count > 10 {
            let points = Set(failures.map { "seed \($0.seed) point \($0.point)" }).sorted()
            XCTFail("\(name): \(failures.count) failing crash images in all, at \(points.joined(separator: ", "))")
        }
    }

    func testCrashSweepFullDurability() throws {
        try sweep(durability: .full, name: "crash-sweep-full")
    }

    func testCrashSweepNoDurability() throws {
        try sweep(durability: .none, name: "crash-sweep-none")
    }

    /// Two more commits in the default keyspace (work after a recovery).
    static func moreCommits(seed: UInt64) -> [Step] {
        var random = SeededGenerator(seed: seed)
        return (0 ..< 2).map { _ in
            .commit((0 ..< 12).map { i in
                .put(space: "", key: b("after-\(Int.random(in: 0 ..< 40, using: &random))"), value: random.bytes(i % 5 == 0 ? 7_000 : 50))
            })
        }
    }

    /// A crash, then a second crash at every step of the recovery (the open truncates, rewrites
    /// the index, syncs and flags the last record) and of the two commits after it.
    func recoverySweep(durability: DatabaseOptions.Durability, name: String) throws {
        let environment = ProcessInfo.processInfo.environment
        let full = environment["COWDB_FULL_SWEEP"] == "1"
        let seed = testSeed(name)
        var random = SeededGenerator(seed: seed)
        let workload = Self.makeWorkload(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let started = Date()
        let counter = FaultInjectionStorage()
        let clean = Self.run(workload, backend: counter, path: path, durability: durability)
        XCTAssertNil(clean.error, "\(name) seed \(seed): the workload without faults")
        XCTAssertEqual(clean.violations, [], "\(name) seed \(seed): the workload without faults")
        let total = counter.counts.steps
        let firstPoints = full ? Array(1 ... total) : Array(Array(1 ... total).shuffled(using: &random).prefix(8)).sorted()
        var failures: [String] = []
        var tried = 0, images = 0
        for first in firstPoints {
            let backend = FaultInjectionStorage()
            backend.crash(afterStep: first)
            let outcome = Self.run(workload, backend: backend, path: path, durability: durability)
            failures += outcome.violations.map { "crash point \(first): \($0)" }
            // The machine the next process finds: after a power cut (what is on disk, all of
            // it durable now), or after a process crash (page cache and disk as they were).
            for powerCut in full ? [true, false] : [first % 2 == 0] {
                let image = backend.image(.powerCut(seed: random.next(), tear: true))
                let machine = { powerCut ? FaultInjectionStorage(image: image) : backend.restartedAfterProcessCrash() }
                let restart = powerCut ? "power cut" : "process crash"
                // Where an undisturbed recovery lands (the main sweep checks that it is right).
                let lowest = powerCut ? outcome.durable : outcome.acknowledged
                guard let recovered = try? openDatabase(path: path, options: Self.options(durability), backend: machine()).latestVersion,
                      recovered >= lowest, recovered <= outcome.acknowledged + (outcome.inFlight == nil ? 0 : 1)
                else {
                    failures.append("crash point \(first), \(restart): recovery fails or lands outside the allowed versions")
                    continue
                }
                let start = outcome.recovered(at: recovered, allDurable: powerCut)
                let more = Self.moreCommits(seed: seed &+ UInt64(first))
                let counting = machine()
                let undisturbed = Self.run(more, backend: counting, path: path, durability: durability, from: start)
                // The model starts at `recovered`: every open of this machine must land there too.
                if let error = undisturbed.error { failures.append("crash point \(first), \(restart): the commits after recovery fail: \(error)") }
                failures += undisturbed.violations.map { "crash point \(first), \(restart): \($0)" }
                for second in 1 ... counting.counts.steps {
                    tried += 1
                    let again = machine()
                    again.crash(afterStep: second)
                    let outcome2 = Self.run(more, backend: again, path: path, durability: durability, from: start)
                    failures += outcome2.violations.map { "crash point \(first), \(restart), then \(second): \($0)" }
                    // A version recovered from the page cache is durable only once the
                    // recovery has synced it: `durable` follows that, so power cuts are
                    // judged by it (with `.full`, every acknowledged commit is durable).
                    let kinds: [(String, FaultInjectionStorage.ImageKind, Expectation)] = [
                        ("process crash", .processCrash, .exact),
                        ("durable only", .durableOnly, .atLeastDurable),
                        ("power cut", .powerCut(seed: random.next(), tear: true), .atLeastDurable),
                    ]
                    for (label, kind, expectation) in kinds {
                        images += 1
                        let problems = Self.verify(again.image(kind), path: path, durability: durability, outcome: outcome2, expectation: expectation)
                        if !problems.isEmpty {
                            failures.append("crash point \(first), \(restart), then \(second) (\(label)): \(problems.prefix(3).joined(separator: "; "))")
                        }
                    }
                }
            }
        }
        let summary = "\(name): seed \(seed), \(firstPoints.count) first crash points, \(tried) second crash points during recovery and after, "
            + "\(images) images, in \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
        print(summary)
        FileHandle.standardError.write(Data((summary + "\n").utf8))
        for failure in failures.prefix(10) { XCTFail("\(name) seed \(seed): \(failure)") }
        if failures.count > 10 {
            let points = Set(failures.compactMap { $0.split(separator: ",").first.map(String.init) }).sorted()
            XCTFail("\(name): \(failures.count) failures in all, after \(points.joined(separator: "; "))")
        }
    }

    func testCrashDuringRecoverySweepFullDurability() throws {
        try recoverySweep(durability: .full, name: "recovery-sweep-full")
    }

    func testCrashDuringRecoverySweepNoDurability() throws {
        try recoverySweep(durability: .none, name: "recovery-sweep-none")
    }

    /// The workload with one failing write or sync, at each write and sync in turn: the
    /// application drops a commit that fails and reopens after a failed sync. Afterwards
    /// every commit acknowledged is there, in the page cache and on the disk.
    func ioErrorSweep(durability: DatabaseOptions.Durability, name: String) throws {
        let environment = ProcessInfo.processInfo.environment
        let full = environment["COWDB_FULL_SWEEP"] == "1"
        let seed = testSeed(name)
        var random = SeededGenerator(seed: seed)
        let workload = Self.makeWorkload(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let started = Date()
        let counter = FaultInjectionStorage()
        let clean = Self.run(workload, backend: counter, path: path, durability: durability)
        XCTAssertNil(clean.error, "\(name) seed \(seed): the workload without faults")
        XCTAssertEqual(clean.violations, [], "\(name) seed \(seed): the workload without faults")
        let (writes, syncs, _) = counter.counts

        enum Fault { case write(Int, Int32), sync(Int, FaultInjectionStorage.SyncFailure) }
        var faults: [Fault] = (1 ... writes).map { .write($0, $0 % 2 == 0 ? ENOSPC : EIO) }
        for k in 1 ... syncs {
            faults.append(.sync(k, .keepDirty))
            // Dropped pages lose unsynced commits, which only `.full` promises to have synced.
            if durability == .full { faults.append(.sync(k, .dropPages)) }
        }
        if !full { faults = Array(faults.shuffled(using: &random).prefix(60)) }
        var failures: [String] = []
        for fault in faults {
            let backend = FaultInjectionStorage()
            switch fault {
            case let .write(k, error): backend.failWrite(number: k, errno: error)
            case let .sync(k, failure): backend.failSync(number: k, errno: EIO, failure: failure)
            }
            let outcome = Self.run(workload, backend: backend, path: path, durability: durability, tolerateFaults: true)
            var problems = outcome.violations
            if let error = outcome.error { problems.append("the workload stopped: \(error)") }
            if outcome.error == nil {
                for (label, kind) in [("page cache", FaultInjectionStorage.ImageKind.processCrash), ("disk", .durableOnly)] {
                    problems += Self.verify(backend.image(kind), path: path, durability: durability, outcome: outcome, expectation: .exact).map { "\(label): \($0)" }
                }
            }
            if !problems.isEmpty { failures.append("\(fault): \(problems.prefix(3).joined(separator: "; "))") }
        }
        let summary = "\(name): seed \(seed), \(writes) writes and \(syncs) syncs; tried \(faults.count) failing writes or syncs "
            + "in \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
        print(summary)
        FileHandle.standardError.write(Data((summary + "\n").utf8))
        for failure in failures.prefix(10) { XCTFail("\(name) seed \(seed): \(failure)") }
        if failures.count > 10 { XCTFail("\(name): \(failures.count) failures in all") }
    }

    func testIOErrorSweepFullDurability() throws {
        try ioErrorSweep(durability: .full, name: "io-error-sweep-full")
    }

    func testIOErrorSweepNoDurability() throws {
        try ioErrorSweep(durability: .none, name: "io-error-sweep-none")
    }

    // MARK: I/O errors

    /// A small database on a fault backend with two versions; returns it and the models.
    private func makeDatabase(_ backend: FaultInjectionStorage, _ path: String, random: inout SeededGenerator) throws -> (Database, [State]) {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        var models = [State()]
        for _ in 0 ..< 2 {
            var next = models.last!
            var mutations: [Mutation] = []
            for i in 0 ..< 20 {
                let value = random.bytes(i % 7 == 0 ? 6_000 : 40)
                mutations.append(.put(space: "", key: b("key-\(Int.random(in: 0 ..< 50, using: &random))"), value: value))
            }
            Self.apply(mutations, to: &next)
            try db.write { try Self.apply(mutations, to: $0) }
            models.append(next)
        }
        return (db, models)
    }

    /// The mutations of one more commit: small and large values.
    private func someCommit(_ random: inout SeededGenerator) -> [Mutation] {
        (0 ..< 12).map { i in .put(space: "", key: b("more-\(Int.random(in: 0 ..< 30, using: &random))"), value: random.bytes(i % 4 == 0 ? 9_000 : 60)) }
    }

    private func assertReads(_ db: Database, _ models: [State], file: StaticString = #filePath, line: UInt = #line) {
        for version in 0 ..< UInt64(models.count) {
            XCTAssertEqual(try db.read(at: version) { try Self.readState($0).0 }, models[Int(version)], "version \(version)", file: file, line: line)
        }
    }

    func testFailedWriteFailsThatCommitAndTheNextSucceeds() throws {
        let seed = testSeed("failed-write")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = FaultInjectionStorage()
        var (db, models) = try makeDatabase(backend, path, random: &random)

        // How many writes one commit makes (overflow runs, leaves, commit record, index record).
        var probe = someCommit(&random)
        let before = backend.counts.writes
        try db.write { try Self.apply(probe, to: $0) }
        var next = models.last!
        Self.apply(probe, to: &next)
        models.append(next)
        let writesPerCommit = backend.counts.writes - before
        XCTAssertGreaterThanOrEqual(writesPerCommit, 3)

        var failedCommits = 0
        for errorNumber in [ENOSPC, EIO] {
            for k in 1 ... writesPerCommit {
                for persistent in [true, false] {
                    probe = someCommit(&random)
                    backend.failWrite(number: backend.counts.writes + k, errno: errorNumber, persistent: persistent)
                    let latest = db.latestVersion
                    do {
                        try db.write { try Self.apply(probe, to: $0) }
                        // Only the index record's write may fail without failing the commit
                        // (the record stays pending and is rebuilt at the next open).
                        XCTAssertEqual(db.latestVersion, latest + 1)
                        var next = models.last!
                        Self.apply(probe, to: &next)
                        models.append(next)
                    } catch let error as CowDBError {
                        failedCommits += 1
                        XCTAssertEqual(error, .io(operation: "pwrite", path: path + "/data", errno: errorNumber), "write \(k) of the commit")
                        XCTAssertEqual(db.latestVersion, latest, "the failed commit made no version")
                        assertReads(db, models)
                        if persistent {
                            // The disk is still full: the next commit fails too.
                            XCTAssertThrowsError(try db.write { try Self.apply(probe, to: $0) })
                            XCTAssertEqual(db.latestVersion, latest)
                        }
                    }
                    backend.clearFaults()
                    // Space is back: the next commit succeeds.
                    let retry = someCommit(&random)
                    try db.write { try Self.apply(retry, to: $0) }
                    var next = models.last!
                    Self.apply(retry, to: &next)
                    models.append(next)
                    XCTAssertEqual(db.latestVersion, UInt64(models.count - 1))
                    assertReads(db, models)
                }
            }
        }
        XCTAssertGreaterThan(failedCommits, 0)
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean)
        try db.close()

        // Reopened on the same disk, and after a power cut: every acknowledged commit is there.
        for image in [nil, backend.image(.durableOnly)] {
            db = try openDatabase(path: path, options: Self.options(.full), backend: image.map { FaultInjectionStorage(image: $0) } ?? backend)
            XCTAssertEqual(db.latestVersion, UInt64(models.count - 1))
            assertReads(db, models)
            try db.checkAndClose()
        }
    }

    /// A failed fdatasync poisons the writer; readers continue; a reopen re-verifies the tail
    /// and writes work again; and nothing acknowledged afterwards is lost in a power cut.
    private func failedSync(_ failure: FaultInjectionStorage.SyncFailure, seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = FaultInjectionStorage()
        var (db, models) = try makeDatabase(backend, path, random: &random)
        let snapshot = try db.snapshot()

        let failing = someCommit(&random)
        var failingState = models.last!
        Self.apply(failing, to: &failingState)
        backend.failNextSync(errno: EIO, failure: failure)
        XCTAssertThrowsError(try db.write { try Self.apply(failing, to: $0) }) { error in
            XCTAssertEqual(error as? CowDBError, .io(operation: "fdatasync", path: path + "/data", errno: EIO))
        }
        // Readers stay on the previous version.
        XCTAssertEqual(db.latestVersion, 2)
        assertReads(db, models)
        XCTAssertEqual(try snapshot.read { try Self.readState($0).0 }, models[2])

        // Writes are refused, even once the disk works again, until the database is reopened.
        backend.clearFaults()
        for _ in 0 ..< 2 {
            XCTAssertThrowsError(try db.write { try $0.put(b("x"), b("y")) }) { error in
                guard case .writerPoisoned = error as? CowDBError else { return XCTFail("expected writerPoisoned, got \(error)") }
            }
        }
        XCTAssertEqual(db.latestVersion, 2)
        assertReads(db, models)
        snapshot.close()
        try db.close()

        // Reopen on the same disk: the failed commit is there whole or not at all.
        db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        XCTAssertTrue([2, 3].contains(db.latestVersion), "latest \(db.latestVersion)")
        if db.latestVersion == 3 { models.append(failingState) }
        if failure == .dropPages { XCTAssertEqual(db.latestVersion, 2, "the dropped pages cannot make a commit") }
        assertReads(db, models)
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean)

        // Writes work again, and what they acknowledge survives a power cut.
        for _ in 0 ..< 2 {
            let mutations = someCommit(&random)
            try db.write { try Self.apply(mutations, to: $0) }
            var next = models.last!
            Self.apply(mutations, to: &next)
            models.append(next)
        }
        let acknowledged = UInt64(models.count - 1)
        XCTAssertEqual(db.latestVersion, acknowledged)
        let image = backend.image(.durableOnly)
        try db.checkAndClose()
        let recovered = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image))
        XCTAssertEqual(recovered.latestVersion, acknowledged, "every commit acknowledged after the reopen survives a power cut (\(failure))")
        if recovered.latestVersion == acknowledged { assertReads(recovered, models) }
        try recovered.checkAndClose()
    }

    func testFailedSyncPoisonsTheWriterUntilReopen() throws {
        try failedSync(.keepDirty, seed: testSeed("failed-sync"))
    }

    func testFailedSyncThatDroppedThePagesLosesOnlyThatCommit() throws {
        try failedSync(.dropPages, seed: testSeed("failed-sync-drop"))
    }

    /// Linux after a writeback error: the dirty pages are marked clean but not written, so the
    /// process still reads them and a later fdatasync succeeds without writing them.
    func testFailedSyncThatMarkedPagesCleanLosesNoLaterCommit() throws {
        try failedSync(.markClean, seed: testSeed("failed-sync-clean"))
    }

    /// A sync failing while the database is created (the parent directory, the new data
    /// file, the directory after the rename) fails the open; the next open works, and what it
    /// then acknowledges survives a power cut: the data file's directory entry must be
    /// durable before a commit is acknowledged.
    func testFailedSyncAtCreationFailsTheOpenAndLosesNothingLater() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for number in 1 ... 3 {
            let backend = FaultInjectionStorage()
            backend.failSync(number: number, errno: EIO)
            XCTAssertThrowsError(try openDatabase(path: path, options: Self.options(.full), backend: backend)) { error in
                guard case .io = error as? CowDBError else { return XCTFail("expected an I/O error, got \(error)") }
            }
            backend.clearFaults()
            let db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
            try db.write { try $0.put(b("k"), b("v")) }
            XCTAssertEqual(db.latestVersion, 1)
            try db.checkAndClose()
            let recovered = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: backend.image(.durableOnly)))
            XCTAssertEqual(recovered.latestVersion, 1, "sync \(number) of the creation failed: the acknowledged commit is lost after a power cut")
            try recovered.close()
        }
    }

    /// A process crash between the rename of the new data file and the sync of its directory;
    /// the next process opens the database and commits: a power cut must not lose that commit.
    func testCrashBeforeDirectorySyncAtCreationLosesNothingLater() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // Steps of a creation: sync of the parent, header write, its sync, rename, directory sync.
        let backend = FaultInjectionStorage()
        backend.crash(afterStep: 4)
        XCTAssertThrowsError(try openDatabase(path: path, options: Self.options(.full), backend: backend))
        let restarted = backend.restartedAfterProcessCrash()
        let db = try openDatabase(path: path, options: Self.options(.full), backend: restarted)
        try db.write { try $0.put(b("k"), b("v")) }
        try db.checkAndClose()
        let recovered = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: restarted.image(.durableOnly)))
        XCTAssertEqual(recovered.latestVersion, 1, "the acknowledged commit is lost after a power cut")
        try recovered.close()
    }

    // MARK: Index records of a lost history

    /// A power cut loses a `.none` process's commits but not all of their index records; the
    /// next process recovers to version 0, drops those records (truncating the index) and
    /// commits other versions 1 and 2. Whatever part of that reaches the disk before a second
    /// power cut (a crash after each of its steps, several power-cut images each), an old
    /// record must not come back: recovery trusts the records before a synced one unread.
    func testIndexRecordsOfALostHistoryNeverReturn() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        // The first process: three commits of two 9 000-byte values each, nothing synced.
        let first = FaultInjectionStorage()
        let lost = try openDatabase(path: path, options: Self.options(.none), backend: first)
        for c in 0 ..< 3 {
            try lost.write { txn in for i in 0 ..< 2 { try txn.put(b("lost-\(c)-\(i)"), [UInt8](repeating: UInt8(c), count: 9_000)) } }
        }
        // The power cut keeps every write but a torn first page: no commit survives it.
        var image = first.image(.processCrash)
        try lost.close()
        image.flipBit(path + "/data", offset: 4096 + 100, bit: 0)
        XCTAssertEqual(image.files[path + "/index"]?.count, 3 * IndexRecord.size)

        // The second process: a small version 1 (its commit record before the lost one's) and
        // a larger version 2 (its commit record after it).
        let commits: [[Mutation]] = [
            [.put(space: "", key: b("new-1"), value: b("one"))],
            (0 ..< 4).map { .put(space: "", key: b("new-2-\($0)"), value: [UInt8](repeating: 7, count: 9_000)) },
        ]
        var models = [State()]
        for mutations in commits {
            var next = models.last!
            Self.apply(mutations, to: &next)
            models.append(next)
        }
        /// Runs the second process on `backend` until it ends or the backend crashes.
        func secondProcess(_ backend: FaultInjectionStorage, _ durability: DatabaseOptions.Durability) {
            do {
                let db = try openDatabase(path: path, options: Self.options(durability), backend: backend)
                XCTAssertEqual(db.latestVersion, 0, "the torn first page leaves no version")
                for mutations in commits { try db.write { try Self.apply(mutations, to: $0) } }
                try db.close()
            } catch {}
        }

        // The machine the second process starts on: the disk after the power cut, or the
        // machine after an earlier process died during its open (its truncation of the index
        // in the page cache only).
        let powerCut = image
        var machines: [(String, () -> FaultInjectionStorage)] = [("", { FaultInjectionStorage(image: powerCut) })]
        let opening = FaultInjectionStorage(image: powerCut)
        try openDatabase(path: path, options: Self.options(.none), backend: opening).close()
        for k in 1 ... opening.counts.steps - 2 { // the close syncs the index and the directory
            let died = FaultInjectionStorage(image: powerCut)
            died.crash(afterStep: k)
            _ = try? openDatabase(path: path, options: Self.options(.none), backend: died)
            machines.append((", after a process died at step \(k) of its open", { died.restartedAfterProcessCrash() }))
        }

        var images = 0
        for (machineLabel, machine) in machines {
            for durability in [DatabaseOptions.Durability.none, .full] {
                let counter = machine()
                secondProcess(counter, durability)
                for step in 1 ... counter.counts.steps {
                    let backend = machine()
                    backend.crash(afterStep: step)
                    secondProcess(backend, durability)
                    for seed in 0 ..< UInt64(48) {
                        images += 1
                        let label = "\(durability)\(machineLabel), crash after step \(step), power cut \(seed)"
                        do {
                            let disk = FaultInjectionStorage(image: backend.image(.powerCut(seed: seed, tear: false)))
                            let db = try openDatabase(path: path, options: Self.options(durability), backend: disk)
                            defer { try? db.close() }
                            XCTAssertLessThanOrEqual(db.latestVersion, 2, label)
                            for version in 0 ... min(db.latestVersion, 2) {
                                do {
                                    let state = try db.read(at: version) { try Self.readState($0).0 }
                                    XCTAssertEqual(state, models[Int(version)], "\(label): version \(version) reads back wrong: \(Self.difference(state, models[Int(version)]))")
                                } catch {
                                    XCTFail("\(label): version \(version) unreadable: \(error)")
                                }
                            }
                        } catch {
                            XCTFail("\(label): the open fails: \(error)")
                        }
                    }
                }
            }
        }
        print("lost-history index: \(images) power-cut images")
    }

    /// A power cut tears a `.none` commit record at a sector boundary and leaves the file that
    /// long (the record's page is partial, its missing tail the zeros it was padded with): the
    /// next process recovers to version 0, cuts the file and commits another version 1. Whatever
    /// part of that reaches the disk before a second power cut, the torn commit must not verify
    /// again (completed by zeros when the file grows): version 1 is the new one or none.
    func testCommitCutOffAtOpenNeverReturns() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let first = FaultInjectionStorage()
        let lost = try openDatabase(path: path, options: Self.options(.none), backend: first)
        try lost.write { try $0.put(b("lost"), b("value")) }
        XCTAssertEqual(try lost.versions().map(\.fileLength), [3 * 4096], "a leaf, then the commit record on page 2")
        var image = first.image(.processCrash)
        try lost.close()
        image.files[path + "/data"]!.removeLast(512)
        image.files[path + "/index"] = []

        let commit: [Mutation] = (0 ..< 3).map { .put(space: "", key: b("new-\($0)"), value: [UInt8](repeating: 9, count: 7_000)) }
        var expected = State()
        Self.apply(commit, to: &expected)
        for durability in [DatabaseOptions.Durability.none, .full] {
            /// Runs the second process on `backend` until it ends or the backend crashes.
            func secondProcess(_ backend: FaultInjectionStorage) {
                do {
                    let db = try openDatabase(path: path, options: Self.options(durability), backend: backend)
                    XCTAssertEqual(db.latestVersion, 0, "the torn commit record leaves no version")
                    try db.write { try Self.apply(commit, to: $0) }
                    try db.close()
                } catch {}
            }
            let counter = FaultInjectionStorage(image: image)
            secondProcess(counter)
            for step in 1 ... counter.counts.steps {
                let backend = FaultInjectionStorage(image: image)
                backend.crash(afterStep: step)
                secondProcess(backend)
                for seed in 0 ..< UInt64(24) {
                    let disk = FaultInjectionStorage(image: backend.image(.powerCut(seed: seed, tear: false)))
                    let db = try openDatabase(path: path, options: Self.options(durability), backend: disk)
                    XCTAssertLessThanOrEqual(db.latestVersion, 1)
                    if db.latestVersion == 1 {
                        let state = try db.read(at: 1) { try Self.readState($0).0 }
                        XCTAssertEqual(state, expected, "\(durability), crash after step \(step), power cut \(seed): version 1 is the commit cut off")
                    }
                    try db.close()
                }
            }
        }
    }

    // MARK: Bit flips

    static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0 ..< 4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    /// Three durable commits, then four with `.none` and a process crash; a flipped bit in a
    /// page of unsynced commit v makes the open stop at v - 1, every earlier version whole.
    func testBitFlipInUnsyncedTailIsDetectedAtOpen() throws {
        let seed = testSeed("crash-tail-flip")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let backend = FaultInjectionStorage()
        var models = [State()]
        var lengths: [UInt64] = []
        for durability in [DatabaseOptions.Durability.full, .none] {
            let db = try openDatabase(path: path, options: Self.options(durability), backend: backend)
            for _ in 0 ..< (durability == .full ? 3 : 4) {
                let mutations = someCommit(&random)
                try db.write { try Self.apply(mutations, to: $0) }
                var next = models.last!
                Self.apply(mutations, to: &next)
                models.append(next)
            }
            lengths = try db.versions().map(\.fileLength)
            if durability == .full { try db.close() }
        }
        // The `.none` database was never closed: its commits are in the page cache only.
        let crashed = backend.image(.processCrash)
        XCTAssertEqual(lengths.count, 7)
        var tried = 0
        for victim in 4 ... 7 {
            let first = Int(lengths[victim - 2]), end = Int(lengths[victim - 1])
            for offset in [first, end - 1] + (0 ..< 4).map({ _ in Int.random(in: first ..< end, using: &random) }) {
                var image = crashed
                image.flipBit(path + "/data", offset: offset, bit: Int.random(in: 0 ..< 8, using: &random))
                let db = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image))
                XCTAssertEqual(db.latestVersion, UInt64(victim - 1), "flip at byte \(offset) (page \(offset / 4096)) of version \(victim)")
                XCTAssertEqual(try db.versions().map(\.version), Array(1 ... UInt64(victim - 1)))
                assertReads(db, Array(models.prefix(victim)))
                try db.checkAndClose()
                tried += 1
            }
        }
        // Undamaged, the whole tail is kept.
        let db = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: crashed))
        XCTAssertEqual(db.latestVersion, 7)
        assertReads(db, models)
        try db.checkAndClose()
        print("crash-tail-flip: \(tried) flipped images")
    }

    /// A flipped bit in any page below the latest commit record is reported by `check()` with
    /// that page's number, and a verified read never returns wrong data.
    func testBitFlipAnywhereIsReportedByCheck() throws {
        let seed = testSeed("crash-flip-anywhere")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let backend = FaultInjectionStorage()
        var models = [State()]
        let db = try Database(path: path, options: Self.options(.full), backend: backend) // unchecked-open: the test flips bits in it
        // Each key is written once per commit, so every page is reachable from its version.
        for c in 0 ..< 6 {
            var mutations: [Mutation] = c == 2 ? [.create(space: "alpha")] : []
            var keys = Set<String>()
            for i in 0 ..< 40 {
                let key = "key-\(Int.random(in: 0 ..< 200, using: &random))"
                guard keys.insert(key).inserted else { continue }
                let space = c >= 2 && i % 3 == 0 ? "alpha" : ""
                mutations.append(.put(space: space, key: b(key), value: random.bytes(i % 9 == 0 ? 5_000 : 90)))
            }
            try db.write { try Self.apply(mutations, to: $0) }
            var next = models.last!
            Self.apply(mutations, to: &next)
            models.append(next)
        }
        let latestCommitPage = (try db.versions().last!.fileLength) / 4096 - 1
        try db.close()
        // The files as the closed database left them (index included: the index is never
        // synced, so a power-cut image would have none and recovery would scan everything).
        let clean = backend.image(.processCrash)
        var verifying = Self.options(.full)
        verifying.verifyOnRead = true

        var flips = 0
        for page in 1 ..< Int(latestCommitPage) {
            let offset = page * 4096 + Int.random(in: 0 ..< 4096, using: &random)
            var image = clean
            image.flipBit(path + "/data", offset: offset, bit: Int.random(in: 0 ..< 8, using: &random))
            let damaged = try Database(path: path, options: verifying, backend: FaultInjectionStorage(image: image)) // unchecked-open: a copy with a flipped bit
            XCTAssertEqual(damaged.latestVersion, 6, "damage below the last commit is not the tail")
            let report = try damaged.checkReport(allVersions: true)
            XCTAssertFalse(report.isClean, "flip at page \(page) offset \(offset % 4096)")
            // Named by the page, or by the first page of the run holding it (an overflow run
            // has one checksum); a damaged commit record is named in the message.
            let named = report.problems.contains { problem in
                if let first = problem.page, first <= UInt64(page) {
                    let runLength = UInt64(Self.u32(clean.files[path + "/data"]!, at: Int(first) * 4096 + PageHeader.runLengthOffset))
                    if UInt64(page) < first + max(runLength, 1) { return true }
                }
                return problem.message.contains("page \(page):")
            }
            XCTAssertTrue(named, "page \(page) named: \(report.problems.prefix(3))")
            // Verified reads: the right data or an error, never wrong data.
            for version in 1 ... UInt64(6) {
                if let state = try? damaged.read(at: version, { try Self.readState($0).0 }) {
                    XCTAssertEqual(state, models[Int(version)], "version \(version) with page \(page) damaged")
                }
            }
            try damaged.close()
            flips += 1
        }

        // Index records: a flipped record is rebuilt from the data file.
        let indexLength = clean.files[path + "/index"]!.count
        for record in 0 ..< indexLength / IndexRecord.size {
            var image = clean
            image.flipBit(path + "/index", offset: record * IndexRecord.size + Int.random(in: 0 ..< IndexRecord.size, using: &random), bit: Int.random(in: 0 ..< 8, using: &random))
            let reopened = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image))
            XCTAssertEqual(reopened.latestVersion, 6)
            assertReads(reopened, models)
            try reopened.checkAndClose()
            flips += 1
        }

        // A bit flipped under an open database (damage on the medium): check() finds it.
        let live = FaultInjectionStorage(image: clean)
        let open = try Database(path: path, options: Self.options(.full), backend: live) // unchecked-open: a bit is flipped under it
        XCTAssertTrue(try open.checkReport(allVersions: true).isClean)
        let victim = Int(latestCommitPage) - 1
        live.flipBit(path + "/data", offset: victim * 4096 + 2_000, bit: 5)
        let report = try open.checkReport(allVersions: true)
        XCTAssertTrue(report.problems.contains { $0.page == UInt64(victim) || $0.message.contains("page \(victim):") }, "\(report.problems.prefix(3))")
        try open.close()
        print("crash-flip-anywhere: \(flips) flipped images")
    }

    /// A commit that was durable (its fdatasync returned) is never dropped without an error
    /// because of damage: with the index intact and the latest commit record damaged, and
    /// after a power cut (the index is never synced, so the disk has none) with an old page
    /// damaged, the open must either fail with `corrupt` or keep every version. Dropping the
    /// damaged commit and everything after it, and truncating the file, loses committed data.
    func testDamageNeverSilentlyDropsDurableCommits() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let backend = FaultInjectionStorage()
        let db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        for i in 0 ..< 6 { try db.write { try $0.put(b("k\(i)"), b("v\(i)")) } }
        let lengths = try db.versions().map { Int($0.fileLength) }
        try db.close()
        let cases: [(String, DiskImage, Int)] = [
            ("the latest commit record, index intact", backend.image(.processCrash), lengths[5] - 4096 + 100),
            ("a leaf of version 2, after a power cut", backend.image(.durableOnly), lengths[1] - 2 * 4096 + 100),
        ]
        for (label, clean, offset) in cases {
            var image = clean
            image.flipBit(path + "/data", offset: offset, bit: 3)
            do {
                let damaged = try Database(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image)) // unchecked-open: a copy with a flipped bit
                XCTAssertEqual(damaged.latestVersion, 6, "\(label): durable versions were dropped without an error")
                try damaged.close()
            } catch let error as CowDBError {
                guard case .corrupt = error else { return XCTFail("\(label): \(error)") }
            }
        }
    }

    /// A data file cut inside its first page (the header survives, the page does not) is not a
    /// database: the open throws, it does not trap. The open runs in a child process (this
    /// test binary, running `testTruncatedHeaderPageChild`), so a trap fails this test only.
    func testTruncatedHeaderPageThrows() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try Database(path: path).close() // unchecked-open: the test truncates its header page
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/data"))
        try handle.truncate(atOffset: 2_000)
        try handle.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["CowDBTests.CrashTests/testTruncatedHeaderPageChild"]
        process.environment = ProcessInfo.processInfo.environment.merging(["COWDB_CHILD_OPEN": path]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // It once trapped: arithmetic overflow in Recovery.run (`filePages - 1` with filePages == 0).
        // The child says what happened on standard output (its exit status is not used: a leak
        // checker at exit may change it).
        XCTAssertEqual(process.terminationReason, .exit, "opening a data file shorter than one page trapped (signal \(process.terminationStatus))")
        XCTAssertTrue(said.contains("COWDB-CHILD: threw"), "opening a data file shorter than one page did not throw: \(said)")
    }

    /// The child of `testTruncatedHeaderPageThrows` (does nothing unless run by it).
    func testTruncatedHeaderPageChild() throws {
        guard let path = ProcessInfo.processInfo.environment["COWDB_CHILD_OPEN"] else { return }
        do {
            _ = try openDatabase(path: path)
            FileHandle.standardOutput.write(Data("COWDB-CHILD: opened\n".utf8))
            exit(1)
        } catch {
            FileHandle.standardOutput.write(Data("COWDB-CHILD: threw \(error)\n".utf8))
            exit(0)
        }
    }
}
