// The crash sweep with concurrent writers (issue 14): four threads commit single pairs with
// `.full` durability into one database while a fifth reads; a crash at any step of any thread,
// and every power-cut image it can leave, keeps every commit whose `write` returned and every
// version the reader saw, and every version on the disk is a consistent prefix of what the
// threads committed (CrashTests+ConcurrentVerify.swift).

import Foundation
import Synchronization
import XCTest
@testable import CowDB
import CowDBStorage

extension CrashTests {
    // MARK: The workload

    /// Four (`threads`) writer threads, each making `commits` single-pair commits of its own
    /// keys; the values, and the pauses that vary the threads' interleaving, come from `seed`.
    struct ConcurrentWorkload: Sendable {
        var seed: UInt64
        var threads = 4
        var commits: Int

        /// The key of commit `sequence` of `thread`.
        static func key(thread: Int, sequence: Int) -> [UInt8] { b("t\(thread)-\(sequence)") }

        /// The thread and sequence number a key of the workload names (nil: not such a key).
        static func parse(_ key: [UInt8]) -> (thread: Int, sequence: Int)? {
            let parts = String(decoding: key, as: UTF8.self).split(separator: "-")
            guard parts.count == 2, parts[0].first == "t", let thread = Int(parts[0].dropFirst()), let sequence = Int(parts[1]) else { return nil }
            return (thread, sequence)
        }

        /// The value of commit `sequence` of `thread`: its name, then seeded bytes; one in eight
        /// over 4 KiB (an overflow run: a commit of several writes).
        func value(thread: Int, sequence: Int) -> [UInt8] {
            var random = SeededGenerator(seed: seed ^ (UInt64(thread) << 32 | UInt64(sequence)) &* 0x9E37_79B9_7F4A_7C15)
            let size = Int.random(in: 0 ..< 8, using: &random) == 0 ? Int.random(in: 4_100 ... 9_000, using: &random)
                : Int.random(in: 8 ... 120, using: &random)
            return b("t\(thread)-s\(sequence):") + random.bytes(size)
        }
    }

    /// A `write` that returned.
    struct ConcurrentAck: Sendable {
        var sequence: Int
        /// The version it committed (the version its transaction started from, plus one).
        var version: UInt64
        /// The operation clock (the backend's steps) right after it returned.
        var step: Int
        /// Whether it returned after the crashing step (its sync came at or before it).
        var afterCrash: Bool
    }

    /// What one writer thread did: how many `write`s it called, those that returned, and the
    /// error that stopped it (the thread stops at its first error, as a dead process would).
    struct WriterLog: Sendable {
        var started = 0
        var acks: [ConcurrentAck] = []
        var error: String?
    }

    /// A run of the workload: each thread's log, and what failed in the open or the close.
    struct ConcurrentOutcome {
        var logs: [WriterLog]
        var openError: String?
        var closeError: String?
        /// The newest version a reader thread saw while the writers ran (visible means durable).
        var seen: UInt64 = 0
        /// What the reader found wrong (a version without one pair per commit, a failed read).
        var readProblems: [String] = []
        /// The database's latest version once the threads ended, before the close.
        var latestAtEnd: UInt64 = 0

        /// Every acknowledged commit, as (thread, ack).
        var acks: [(thread: Int, ack: ConcurrentAck)] {
            logs.enumerated().flatMap { thread, log in log.acks.map { (thread, $0) } }
        }
    }

    /// Holds the database for the writer threads, so that none keeps it alive after the run
    /// (its lock must be gone before the next open of the path).
    final class DatabaseSlot: @unchecked Sendable {
        var database: Database?
    }

    /// `.full` durability, no automatic compaction (the commits' steps alone).
    static func concurrentOptions() -> DatabaseOptions {
        var options = DatabaseOptions()
        options.durability = .full
        options.mapReservation = 1 << 30
        options.automaticCompaction = nil
        return options
    }

    // MARK: Running it

    /// Opens the database on `backend`, runs the writer threads to their end (or their first
    /// error) and closes it.
    static func runConcurrent(_ workload: ConcurrentWorkload, backend: FaultInjectionStorage, path: String) -> ConcurrentOutcome {
        var outcome = ConcurrentOutcome(logs: Array(repeating: WriterLog(), count: workload.threads))
        let slot = DatabaseSlot()
        do {
            slot.database = try Database(path: path, options: concurrentOptions(), backend: backend) // unchecked-open: the static crash harness; verifyConcurrent opens and checks every image it leaves
        } catch {
            outcome.openError = "\(error)"
            return outcome
        }
        let logs = Locked(outcome.logs)
        let done = DispatchSemaphore(value: 0)
        for thread in 0 ..< workload.threads {
            Thread {
                let log = writerLoop(thread: thread, workload: workload, database: slot.database!, backend: backend)
                logs.withLock { $0[thread] = log }
                done.signal()
            }.start()
        }
        let reading = Atomic(true)
        let reader = Locked((seen: UInt64(0), problems: [String]()))
        Thread {
            let found = readerLoop(database: slot.database!, while: reading)
            reader.withLock { $0 = found }
            done.signal()
        }.start()
        for _ in 0 ..< workload.threads { done.wait() }
        reading.store(false, ordering: .releasing)
        done.wait()
        outcome.logs = logs.withLock { $0 }
        (outcome.seen, outcome.readProblems) = reader.withLock { $0 }
        outcome.latestAtEnd = slot.database!.latestVersion
        do { try slot.database!.close() } catch { outcome.closeError = "\(error)" }
        slot.database = nil
        return outcome
    }

    /// One writer thread: its commits in order, each logged with its version and the operation
    /// clock once `write` returns; seeded pauses of up to 200 µs before three in four.
    static func writerLoop(thread: Int, workload: ConcurrentWorkload, database db: Database, backend: FaultInjectionStorage) -> WriterLog {
        var log = WriterLog()
        var random = SeededGenerator(seed: workload.seed &+ UInt64(thread) &* 0x51ED)
        for sequence in 0 ..< workload.commits {
            if Int.random(in: 0 ..< 4, using: &random) != 0 { usleep(UInt32.random(in: 0 ... 200, using: &random)) }
            log.started = sequence + 1
            do {
                let version = try db.write { txn in
                    try txn.put(ConcurrentWorkload.key(thread: thread, sequence: sequence), workload.value(thread: thread, sequence: sequence))
                    return txn.version + 1
                }
                let clock = backend.clock
                log.acks.append(ConcurrentAck(sequence: sequence, version: version, step: clock.step, afterCrash: clock.crashed))
            } catch {
                log.error = "\(error)"
                break
            }
        }
        return log
    }

    /// A reader thread, while `reading` holds: reads the latest version (one pair per version),
    /// every 50 µs; returns the newest version it saw and what was wrong.
    static func readerLoop(database db: Database, while reading: borrowing Atomic<Bool>) -> (seen: UInt64, problems: [String]) {
        var seen: UInt64 = 0
        var problems: [String] = []
        while reading.load(ordering: .acquiring) && problems.isEmpty {
            do {
                let (version, count) = try db.read { txn in (txn.version, try txn.scan().reduce(0) { count, _ in count + 1 }) }
                if UInt64(count) != version { problems.append("a reader saw \(count) pairs at version \(version)") }
                seen = max(seen, version)
            } catch {
                problems.append("a reader failed: \(error)")
            }
            usleep(50)
        }
        return (seen, problems)
    }

    /// What a run's own records say is wrong: two commits acknowledged as one version, or a
    /// thread's commits acknowledged out of order.
    static func runProblems(_ outcome: ConcurrentOutcome) -> [String] {
        var problems = outcome.readProblems
        var owner: [UInt64: (Int, Int)] = [:]
        for (thread, ack) in outcome.acks {
            if let other = owner[ack.version] {
                problems.append("version \(ack.version) acknowledged to thread \(other.0) commit \(other.1) and thread \(thread) commit \(ack.sequence)")
            }
            owner[ack.version] = (thread, ack.sequence)
        }
        for (thread, log) in outcome.logs.enumerated() where zip(log.acks, log.acks.dropFirst()).contains(where: { $0.version >= $1.version }) {
            problems.append("thread \(thread)'s commits acknowledged out of order: \(log.acks.map(\.version))")
        }
        return problems
    }
}

extension CrashTests {
    // MARK: The sweep

    /// Counts across a concurrent-writer sweep, for its summary, and what failed.
    struct ConcurrentTally {
        var points = 0, steps = 0, images = 0, acks = 0, acksAfterCrash = 0, inFlightKept = 0, openFailed = 0, switches = 0, seen: UInt64 = 0
        var failures: [SweepFailure] = []
    }

    /// The concurrent-writer crash sweep. Default: one workload of 4 threads × 15 commits (about
    /// 260 steps), a seeded sample of `COWDB_CRASH_POINTS` (120) of its steps, each checked in its
    /// process-crash image, its durable bytes and `COWDB_POWER_CUTS` (2) power cuts (one torn).
    /// `COWDB_FULL_SWEEP=1`: every step of `COWDB_SWEEP_WORKLOADS` (3) workloads, six power cuts
    /// each; `COWDB_CONCURRENT_COMMITS` sets the commits per thread. A seed replays the workload,
    /// the crash points and the images, not the threads' schedule (the operating system's).
    func concurrentSweep(name: String) throws {
        let environment = ProcessInfo.processInfo.environment
        let full = environment["COWDB_FULL_SWEEP"] == "1"
        let firstSeed = testSeed(name)
        let workloads = environment["COWDB_SWEEP_WORKLOADS"].flatMap(Int.init) ?? (full ? 3 : 1)
        let powerCuts = environment["COWDB_POWER_CUTS"].flatMap(Int.init) ?? (full ? 6 : 2)
        let commits = environment["COWDB_CONCURRENT_COMMITS"].flatMap(Int.init) ?? 15
        let threads = ConcurrentWorkload(seed: 0, commits: 0).threads
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // for the real lock file
        let started = Date()
        var tally = ConcurrentTally()
        for w in 0 ..< workloads {
            let workload = ConcurrentWorkload(seed: firstSeed &+ UInt64(w), commits: commits)
            let counter = FaultInjectionStorage()
            guard let switches = checkCleanConcurrentRun(workload, backend: counter, path: path, name: name) else { return }
            tally.switches += switches
            let total = counter.counts.steps
            tally.steps += total
            for point in Self.crashPoints(total: total, seed: workload.seed, full: full, environment: environment, sample: 120) {
                Self.sweepConcurrentCrashPoint(point, of: workload, path: path, powerCuts: powerCuts, into: &tally)
            }
        }
        let summary = "\(name): \(workloads) workload(s) of \(threads) threads × \(commits) commits from seed \(firstSeed), \(tally.steps) steps, "
            + "\(tally.switches) thread switches between consecutive versions without faults; "
            + "tried \(tally.points) crash points (\(tally.openFailed) of them in the open, which failed), \(tally.images) crash images; "
            + "\(tally.acks) acknowledged commits checked, \(tally.acksAfterCrash) of them returned after the crashing step; "
            + "a commit in flight kept in \(tally.inFlightKept) images; the reader's newest version averaged "
            + "\(tally.points == 0 ? 0 : tally.seen / UInt64(tally.points)); in \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
        announce(summary)
        for failure in tally.failures.prefix(10) {
            XCTFail("\(name) crash point \(failure.point) (COWDB_SEED=\(failure.seed) COWDB_CRASH_POINT=\(failure.point)), \(failure.image): \(failure.problems.prefix(4).joined(separator: "; "))")
        }
        if tally.failures.count > 10 { XCTFail("\(name): \(tally.failures.count) failing crash images in all") }
    }

    /// Runs `workload` without faults: every commit must return, as its own version, and the
    /// page cache and the disk after the close must hold them all. Returns how often consecutive
    /// versions came from different threads (how much they interleaved); nil when the run failed.
    func checkCleanConcurrentRun(_ workload: ConcurrentWorkload, backend: FaultInjectionStorage, path: String, name: String) -> Int? {
        let clean = Self.runConcurrent(workload, backend: backend, path: path)
        let context = "\(name) seed \(workload.seed), without faults"
        XCTAssertNil(clean.openError, context)
        XCTAssertNil(clean.closeError, context)
        XCTAssertEqual(clean.logs.compactMap(\.error), [], context)
        let all = UInt64(workload.threads * workload.commits)
        XCTAssertEqual(clean.acks.map(\.ack.version).sorted(), Array(1 ... all), "\(context): the versions acknowledged")
        XCTAssertEqual(Self.runProblems(clean), [], context)
        for (label, kind) in [("page cache", FaultInjectionStorage.ImageKind.processCrash), ("disk", .durableOnly)] {
            let (problems, latest) = Self.verifyConcurrent(backend.image(kind), path: path, workload: workload, outcome: clean)
            XCTAssertEqual(problems, [], "\(context), \(label)")
            XCTAssertEqual(latest, all, "\(context), \(label)")
        }
        guard clean.openError == nil, clean.acks.count == Int(all) else { return nil }
        let owners = clean.acks.sorted { $0.ack.version < $1.ack.version }.map(\.thread)
        return zip(owners, owners.dropFirst()).filter { $0 != $1 }.count
    }

    /// Runs the workload to a crash right after step `point` (of whichever thread makes it),
    /// then opens and checks each disk image that crash can leave.
    static func sweepConcurrentCrashPoint(_ point: Int, of workload: ConcurrentWorkload, path: String, powerCuts: Int,
                                          into tally: inout ConcurrentTally) {
        tally.points += 1
        let backend = FaultInjectionStorage()
        backend.crash(afterStep: point)
        let outcome = runConcurrent(workload, backend: backend, path: path)
        if outcome.openError != nil { tally.openFailed += 1 }
        tally.seen += outcome.seen
        let acks = outcome.acks
        tally.acks += acks.count
        tally.acksAfterCrash += acks.filter(\.ack.afterCrash).count
        let running = runProblems(outcome)
        if !running.isEmpty { tally.failures.append(SweepFailure(seed: workload.seed, point: point, image: "while running", problems: running)) }
        var random = SeededGenerator(seed: workload.seed &+ UInt64(point) &* 0x9E37_79B9)
        for (label, kind, _) in crashImages(durability: .full, powerCuts: powerCuts, random: &random) {
            tally.images += 1
            let (problems, latest) = verifyConcurrent(backend.image(kind), path: path, workload: workload, outcome: outcome)
            if let latest, latest > UInt64(acks.count) { tally.inFlightKept += 1 }
            if !problems.isEmpty { tally.failures.append(SweepFailure(seed: workload.seed, point: point, image: label, problems: problems)) }
        }
    }

    func testCrashSweepConcurrentWriters() throws {
        try concurrentSweep(name: "crash-sweep-concurrent")
    }
}
