// The crash sweep over packing compactions (docs/PACKED-HISTORY.md): a crash at any step of a
// compaction that packs every version but the latest, or repacks an already packed database,
// loses no acknowledged version and leaves nothing to repair by hand.

import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension CrashTests {
    /// The seeded workload (`makeWorkload`), lightened (at most 30 changes a commit, values of
    /// at most 6,000 bytes: still overflow runs), with its compaction replaced by two that keep
    /// every version: one packing all but the latest before the tenth commit, and a repack
    /// packing all but the newest two before the fourteenth (two commits follow it).
    static func makePackingWorkload(seed: UInt64) -> [Step] {
        var steps: [Step] = makeWorkload(seed: seed).compactMap { step in
            switch step {
            case .compact: return nil
            case .reopen: return step
            case let .commit(mutations):
                return .commit(mutations.prefix(30).map { mutation in
                    if case let .put(space, key, value) = mutation { return .put(space: space, key: key, value: Array(value.prefix(6_000))) }
                    return mutation
                })
            }
        }
        let commits = steps.indices.filter { if case .commit = steps[$0] { true } else { false } }
        steps.insert(.compact(keepLast: nil, packing: .allButNewest(2)), at: commits[13])
        steps.insert(.compact(keepLast: nil, packing: .all), at: commits[9])
        return steps
    }

    /// By default one workload per durability, with a sample of `COWDB_CRASH_POINTS` (12) crash
    /// points among the steps of its two packing compactions; `COWDB_FULL_SWEEP=1`: every step
    /// of `COWDB_SWEEP_WORKLOADS` (10) workloads with six power-cut images each. Every image
    /// must hold every acknowledged version with its content, pass `check`, and compact again.
    func packingSweep(durability: DatabaseOptions.Durability, name: String) throws {
        try sweep(durability: durability, name: name, make: Self.makePackingWorkload, minimumVersions: 12,
                  workloads: 1, compactionPoints: 12, thenCompact: true)
    }

    func testPackingCrashSweepFullDurability() throws {
        try packingSweep(durability: .full, name: "pack-crash-sweep-full")
    }

    func testPackingCrashSweepNoDurability() throws {
        try packingSweep(durability: .none, name: "pack-crash-sweep-none")
    }

    /// A crash, then a second crash at every step of the recovery and the two commits after
    /// it, over the packing workload (2 first crash points by default; all with the full sweep).
    func testPackingCrashDuringRecoverySweep() throws {
        try recoverySweep(durability: .full, name: "pack-recovery-sweep-full", make: Self.makePackingWorkload, firstPoints: 2)
    }

    /// A failing write or sync in the packing workload (16 of them by default; every one with
    /// the full sweep): the application drops what failed, and every acknowledged commit stays.
    func testPackingIOErrorSweep() throws {
        try ioErrorSweep(durability: .full, name: "pack-io-error-sweep-full", make: Self.makePackingWorkload, faults: 16)
    }

    /// The packing workload's compactions pack: after a clean run, the first versions are
    /// packed (the pack commit's records), the latest is not, and every version reads as the
    /// model says (checked as the run goes).
    func testPackingWorkloadPacks() throws {
        let seed = testSeed("pack-crash-workload")
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let backend = FaultInjectionStorage()
        let outcome = Self.run(Self.makePackingWorkload(seed: seed), backend: backend, path: path, durability: .full)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.violations, [])
        XCTAssertEqual(outcome.compactionSteps.count, 2)
        let db = try Database(path: path, options: Self.options(.full), backend: backend) // unchecked-open: on the in-memory disk; checked below
        defer { try? db.close() }
        let index = try db.currentGeneration().view().index
        let packed = try (0 ..< index.count).filter { try index.record($0).isPacked }
        XCTAssertGreaterThanOrEqual(packed.count, 10, "seed \(seed): the repack packs all but the newest two of 14 or more")
        XCTAssertEqual(packed, Array(0 ..< packed.count), "seed \(seed): the packed versions are the oldest")
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean)
    }
}
