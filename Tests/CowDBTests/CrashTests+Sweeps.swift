// The crash sweep, the crash-during-recovery sweep and the I/O error sweep (see CrashTests).

import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension CrashTests {
    // MARK: The sweep

    struct SweepFailure {
        var seed: UInt64
        var point: Int
        var image: String
        var problems: [String]
    }

    /// Counts across a crash sweep, for its summary, and what failed.
    struct SweepTally {
        var pointsTried = 0, stepsInAll = 0, compactionSteps = 0, images = 0, inFlightKept = 0, inFlightDropped = 0, olderDurable = 0
        var failures: [SweepFailure] = []
    }

    /// The crash sweep for one durability. Default: two workloads (seeds printed), up to
    /// `COWDB_CRASH_POINTS` (150) of its crash points, a seeded sample when it has more.
    /// `COWDB_FULL_SWEEP=1`: every crash point of `COWDB_SWEEP_WORKLOADS` (10) workloads,
    /// with `COWDB_POWER_CUTS` (default 2, full sweep 6) power-cut images per point.
    ///
    /// `make` draws the workload from a seed, `minimumVersions` is how many it must commit,
    /// `workloads` how many a default run tries; `compactionPoints` (when given) makes a default
    /// run sample that many crash points among the steps of the workload's compactions only,
    /// and `thenCompact` compacts each recovered image once more (nothing may be left to repair).
    func sweep(durability: DatabaseOptions.Durability, name: String, make: (UInt64) -> [Step] = makeWorkload,
               minimumVersions: UInt64 = 12, workloads defaultWorkloads: Int = 2, compactionPoints: Int? = nil,
               thenCompact: Bool = false) throws {
        let environment = ProcessInfo.processInfo.environment
        let full = environment["COWDB_FULL_SWEEP"] == "1"
        let firstSeed = testSeed(name)
        let workloads = environment["COWDB_SWEEP_WORKLOADS"].flatMap(Int.init) ?? (full ? 10 : defaultWorkloads)
        let powerCuts = environment["COWDB_POWER_CUTS"].flatMap(Int.init) ?? (full ? 6 : 2)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // for the real lock file
        let started = Date()
        var tally = SweepTally()

        for w in 0 ..< workloads {
            let seed = firstSeed &+ UInt64(w)
            let workload = make(seed)
            // The clean run: counts the steps and gives the expected outcome.
            let counter = FaultInjectionStorage()
            let clean = Self.run(workload, backend: counter, path: path, durability: durability)
            if let error = clean.error { XCTFail("\(name) seed \(seed): the workload fails without faults: \(error)"); return }
            XCTAssertEqual(clean.violations, [], "\(name) seed \(seed): the workload without faults")
            let total = counter.counts.steps
            tally.stepsInAll += total
            XCTAssertEqual(clean.acknowledged, Self.versionsMade(by: workload), "every commit that changes something makes a version")
            XCTAssertGreaterThanOrEqual(clean.acknowledged, minimumVersions, "the workload commits enough versions")
            let focus = compactionPoints.map { _ in clean.compactionSteps.flatMap { Array($0) } }
            XCTAssertNotEqual(focus?.isEmpty, true, "the workload compacts")
            tally.compactionSteps += focus?.count ?? 0
            for point in Self.crashPoints(total: total, seed: seed, full: full, environment: environment,
                                          among: focus, sample: compactionPoints) {
                Self.sweepCrashPoint(point, of: workload, seed: seed, path: path, durability: durability,
                                     powerCuts: powerCuts, thenCompact: thenCompact, into: &tally)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let summary = "\(name): \(workloads) workload(s) from seed \(firstSeed), \(tally.stepsInAll) steps (writes, syncs, truncations, renames)"
            + (compactionPoints == nil ? "" : ", \(tally.compactionSteps) of them compacting") + "; "
            + "tried \(tally.pointsTried) crash points, \(tally.images) crash images (commit in flight kept in \(tally.inFlightKept), dropped in \(tally.inFlightDropped); "
            + "opened below the last acknowledged commit in \(tally.olderDurable)), in \(String(format: "%.1f", seconds)) s"
        announce(summary)
        for failure in tally.failures.prefix(10) {
            XCTFail("\(name) crash point \(failure.point) (COWDB_SEED=\(failure.seed) COWDB_CRASH_POINT=\(failure.point)), \(failure.image): \(failure.problems.prefix(4).joined(separator: "; "))")
        }
        if tally.failures.count > 10 {
            let points = Set(tally.failures.map { "seed \($0.seed) point \($0.point)" }).sorted()
            XCTFail("\(name): \(tally.failures.count) failing crash images in all, at \(points.joined(separator: ", "))")
        }
    }

    /// The crash points a sweep tries among a workload's `total` steps: `COWDB_CRASH_POINT`
    /// alone, every one (full sweep), or a seeded sample of `COWDB_CRASH_POINTS` (150, or
    /// `sample`) of them, or of `among` when given.
    static func crashPoints(total: Int, seed: UInt64, full: Bool, environment: [String: String],
                            among: [Int]? = nil, sample defaultSample: Int? = nil) -> [Int] {
        if let one = environment["COWDB_CRASH_POINT"].flatMap(Int.init) { return [one] }
        if full { return Array(1 ... total) }
        let sample = environment["COWDB_CRASH_POINTS"].flatMap(Int.init) ?? defaultSample ?? 150
        var random = SeededGenerator(seed: seed ^ 0x5EED)
        return Array((among ?? Array(1 ... total)).shuffled(using: &random).prefix(sample)).sorted()
    }

    /// Runs the workload to a crash right after step `point`, then opens and checks each disk
    /// image that crash can leave; counts and failures go to `tally`.
    static func sweepCrashPoint(_ point: Int, of workload: [Step], seed: UInt64, path: String,
                                durability: DatabaseOptions.Durability, powerCuts: Int, thenCompact: Bool = false,
                                into tally: inout SweepTally) {
        tally.pointsTried += 1
        let backend = FaultInjectionStorage()
        backend.crash(afterStep: point)
        // The run may finish without an error: the steps after `point` can be ones
        // whose failure the engine tolerates (the index record's write).
        let outcome = run(workload, backend: backend, path: path, durability: durability)
        if !outcome.violations.isEmpty {
            tally.failures.append(SweepFailure(seed: seed, point: point, image: "while running", problems: outcome.violations))
        }
        var random = SeededGenerator(seed: seed &+ UInt64(point) &* 0x9E37_79B9)
        for (label, kind, expectation) in crashImages(durability: durability, powerCuts: powerCuts, random: &random) {
            tally.images += 1
            let (problems, latest) = verifyReturningLatest(backend.image(kind), path: path, durability: durability,
                                                           outcome: outcome, expectation: expectation, thenCompact: thenCompact)
            if let latest, outcome.inFlight != nil {
                if latest > outcome.acknowledged { tally.inFlightKept += 1 } else if latest == outcome.acknowledged { tally.inFlightDropped += 1 }
            }
            if let latest, latest < outcome.acknowledged { tally.olderDurable += 1 }
            if !problems.isEmpty { tally.failures.append(SweepFailure(seed: seed, point: point, image: label, problems: problems)) }
        }
    }

    /// The disk images a crash point is checked in, with how strictly: the page cache, the
    /// durable bytes, and `powerCuts` power cuts (with `.none`, half as many, all torn).
    static func crashImages(durability: DatabaseOptions.Durability, powerCuts: Int,
                            random: inout SeededGenerator) -> [(String, FaultInjectionStorage.ImageKind, Expectation)] {
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
        return kinds
    }

    /// Prints a sweep's summary line to standard output and to standard error.
    func announce(_ summary: String) {
        print(summary)
        FileHandle.standardError.write(Data((summary + "\n").utf8))
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

    /// What the recovery and I/O-error sweeps start from: the seeded workload, run once
    /// without faults (which must succeed) on a counting backend, in a fresh directory.
    struct SweepSetup {
        let full: Bool, seed: UInt64, workload: [Step], directory: TemporaryDirectory, path: String
        let started: Date, counter: FaultInjectionStorage
    }

    /// Prepares a sweep named `name` (its seed from `testSeed(name)`) of the workload `make` draws.
    func prepareSweep(durability: DatabaseOptions.Durability, name: String, make: (UInt64) -> [Step] = makeWorkload) throws -> SweepSetup {
        let full = ProcessInfo.processInfo.environment["COWDB_FULL_SWEEP"] == "1"
        let seed = testSeed(name)
        let workload = make(seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let started = Date()
        let counter = FaultInjectionStorage()
        let clean = Self.run(workload, backend: counter, path: path, durability: durability)
        XCTAssertNil(clean.error, "\(name) seed \(seed): the workload without faults")
        XCTAssertEqual(clean.violations, [], "\(name) seed \(seed): the workload without faults")
        return SweepSetup(full: full, seed: seed, workload: workload, directory: directory, path: path, started: started, counter: counter)
    }

    /// A crash, then a second crash at every step of the recovery (the open truncates, rewrites
    /// the index, syncs and flags the last record) and of the two commits after it.
    func recoverySweep(durability: DatabaseOptions.Durability, name: String, make: (UInt64) -> [Step] = makeWorkload,
                       firstPoints sample: Int = 8) throws {
        let setup = try prepareSweep(durability: durability, name: name, make: make)
        defer { withExtendedLifetime(setup.directory) {} } // the directory lives until the sweep ends
        let (full, seed, workload, path, started, counter) = (setup.full, setup.seed, setup.workload, setup.path, setup.started, setup.counter)
        var random = SeededGenerator(seed: seed)
        let total = counter.counts.steps
        let firstPoints = full ? Array(1 ... total) : Array(Array(1 ... total).shuffled(using: &random).prefix(sample)).sorted()
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
                let second = Self.crashAgain(during: more, steps: counting.counts.steps, on: machine, from: start,
                                             context: "crash point \(first), \(restart)",
                                             path: path, durability: durability, random: &random)
                (tried, images) = (tried + second.tried, images + second.images)
                failures += second.failures
            }
        }
        let summary = "\(name): seed \(seed), \(firstPoints.count) first crash points, \(tried) second crash points during recovery and after, "
            + "\(images) images, in \(String(format: "%.1f", Date().timeIntervalSince(started))) s"
        announce(summary)
        for failure in failures.prefix(10) { XCTFail("\(name) seed \(seed): \(failure)") }
        if failures.count > 10 {
            let points = Set(failures.compactMap { $0.split(separator: ",").first.map(String.init) }).sorted()
            XCTFail("\(name): \(failures.count) failures in all, after \(points.joined(separator: "; "))")
        }
    }

    /// The second crashes of the recovery sweep: `more` (the work after a recovery, `steps`
    /// steps) crashed at each of its steps on a fresh copy of `machine`, each crash's images
    /// checked against the model started at `start`; `context` starts each failure's message.
    static func crashAgain(during more: [Step], steps: Int, on machine: () -> FaultInjectionStorage, from start: Outcome,
                           context: String, path: String, durability: DatabaseOptions.Durability,
                           random: inout SeededGenerator) -> (tried: Int, images: Int, failures: [String]) {
        var tried = 0, images = 0
        var failures: [String] = []
        for second in 1 ... steps {
            tried += 1
            let again = machine()
            again.crash(afterStep: second)
            let outcome2 = run(more, backend: again, path: path, durability: durability, from: start)
            failures += outcome2.violations.map { "\(context), then \(second): \($0)" }
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
                let problems = verify(again.image(kind), path: path, durability: durability, outcome: outcome2, expectation: expectation)
                if !problems.isEmpty {
                    failures.append("\(context), then \(second) (\(label)): \(problems.prefix(3).joined(separator: "; "))")
                }
            }
        }
        return (tried, images, failures)
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
    func ioErrorSweep(durability: DatabaseOptions.Durability, name: String, make: (UInt64) -> [Step] = makeWorkload,
                      faults sample: Int = 60) throws {
        let setup = try prepareSweep(durability: durability, name: name, make: make)
        defer { withExtendedLifetime(setup.directory) {} } // the directory lives until the sweep ends
        let (full, seed, workload, path, started, counter) = (setup.full, setup.seed, setup.workload, setup.path, setup.started, setup.counter)
        var random = SeededGenerator(seed: seed)
        let (writes, syncs, _) = counter.counts

        enum Fault { case write(Int, Int32), sync(Int, FaultInjectionStorage.SyncFailure) }
        var faults: [Fault] = (1 ... writes).map { .write($0, $0 % 2 == 0 ? ENOSPC : EIO) }
        for k in 1 ... syncs {
            faults.append(.sync(k, .keepDirty))
            // Dropped pages lose unsynced commits, which only `.full` promises to have synced.
            if durability == .full { faults.append(.sync(k, .dropPages)) }
        }
        if !full { faults = Array(faults.shuffled(using: &random).prefix(sample)) }
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
        announce(summary)
        for failure in failures.prefix(10) { XCTFail("\(name) seed \(seed): \(failure)") }
        if failures.count > 10 { XCTFail("\(name): \(failures.count) failures in all") }
    }

    func testIOErrorSweepFullDurability() throws {
        try ioErrorSweep(durability: .full, name: "io-error-sweep-full")
    }

    func testIOErrorSweepNoDurability() throws {
        try ioErrorSweep(durability: .none, name: "io-error-sweep-none")
    }
}
