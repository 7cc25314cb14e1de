import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB

/// Seeded model-based simulation of packed history (docs/PACKED-HISTORY.md): the model keeps
/// every version's whole state; random steps commit, pack (all, all but the newest k), drop
/// versions (packing or not), roll back (mostly to packed versions) and reopen; versions are
/// read back whole and diffed (packed/packed, packed/tree, both ways) against the model after
/// each step, and every version at the end, before and after a last reopen.
/// Replay with COWDB_SEED; a longer run with COWDB_SIM_STEPS=<steps> (or COWDB_FULL_SWEEP=1).
final class PackedSimulationTests: XCTestCase {
    /// Steps of the run: 80 by default (a few seconds), more on demand.
    private static var steps: Int {
        let environment = ProcessInfo.processInfo.environment
        if let steps = environment["COWDB_SIM_STEPS"].flatMap({ Int($0) }) { return steps }
        return environment["COWDB_FULL_SWEEP"] == "1" ? 2_000 : 80
    }

    func testEveryVersionAgainstTheModelThroughPackingRollbackAndReopen() throws {
        let seed = testSeed("packed-simulation")
        let directory = TemporaryDirectory()
        let sim = try PackedSimulation(test: self, path: directory.path("sim.cowdb"), seed: seed)
        let steps = Self.steps
        for step in 0 ..< steps {
            sim.check.context = "seed \(seed), step \(step)"
            // A packing compaction a third of the way in and a dropping one two thirds in, whatever the draws.
            let roll = step == steps / 3 ? 62 : step == 2 * steps / 3 ? 76 : Int.random(in: 0 ..< 100, using: &sim.random)
            switch roll {
            case 0 ..< 62: try sim.commit()
            case 62 ..< 72: try sim.pack()
            case 72 ..< 80: try sim.dropVersions()
            case 80 ..< 90: try sim.rollback()
            default: try sim.reopen()
            }
            // After a commit a few versions; after anything else more of them.
            try sim.verify(sim.sample(roll < 62 ? 1 : 5), diffs: roll < 62 ? 0 : 2)
        }
        sim.check.context = "seed \(seed), end"
        XCTAssertEqual(sim.db.latestVersion, sim.model.latest)
        try sim.verify(sim.model.versions, diffs: 10)
        try sim.reopen()
        try sim.verify(sim.model.versions, diffs: 10)
        print("packed simulation: \(steps) steps, \(sim.model.versions.count) versions (\(sim.model.packed.count) packed) at the end; "
              + "\(sim.packedReads) packed and \(sim.treeReads) tree versions read whole, \(sim.packedDiffs) diffs with a packed side, "
              + "\(sim.packingCompactions) packing compactions, \(sim.packedRollbacks) rollbacks to packed versions, \(sim.reopens) reopens")
        XCTAssertGreaterThan(sim.packedReads, 0)
        XCTAssertGreaterThan(sim.packedDiffs, 0)
        XCTAssertGreaterThan(sim.packingCompactions, 0)
        try sim.db.checkAndClose()
    }
}
