// The operation fuzzer's checks of a reopened or recovered database: the latest version is
// the acknowledged one (or the commit in flight; with `.none` durability after a power cut,
// anything from the last durable one), the versions are the model's less those an interrupted
// compaction may have dropped, the tags match, and every version reads back exactly.

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension OpFuzzRunner {
    /// Reconciles the runner's model with a database reopened after a fault.
    func reconcile(with database: Database, context: String) {
        // With `.none` durability, a failed sync that dropped the dirty pages loses the unsynced
        // commits as a power cut would (the engine cannot write back what the kernel discarded).
        let dropped = backend.pageDropCount
        checkRecovered(database, model: &model, lostAllowed: !durable && dropped > pageDropsReconciled, context: context)
        pageDropsReconciled = dropped
    }

    /// Checks `database` against `model` and resolves what the model left open (the commit in
    /// flight, the versions a compaction may have dropped, the tag being changed) to what the
    /// database holds. `lostAllowed`: commits after `model.durable` may be gone (a power cut
    /// with `.none` durability).
    func checkRecovered(_ database: Database, model: inout OpModel, lostAllowed: Bool, context: String) {
        let latest = database.latestVersion
        let highest = model.latest + (model.inFlight == nil ? 0 : 1)
        let lowest = lostAllowed ? model.durable : model.latest
        guard latest >= lowest, latest <= highest else {
            problems.append("\(context): latest version \(latest), expected \(lowest)...\(highest) (durable \(model.durable))")
            return
        }
        if latest > model.latest, let pending = model.inFlight {
            model.commit(pending, durable: true)
        }
        while model.latest > latest {
            model.versions[model.latest] = nil
            model.latest -= 1
        }
        model.inFlight = nil
        do {
            let listed = Set(try database.versions().map(\.version))
            for version in model.versions.keys.sorted() where version != 0 && !listed.contains(version) {
                if model.mayBeDropped.contains(version) {
                    model.versions[version] = nil
                } else {
                    problems.append("\(context): version \(version) is missing")
                }
            }
            for version in listed.sorted() where model.versions[version] == nil {
                problems.append("\(context): version \(version) should not exist")
            }
            model.mayBeDropped = []
            try reconcileTags(database, model: &model, context: context)
        } catch {
            problems.append("\(context): cannot list versions or tags: \(error)")
        }
        model.durable = model.latest
    }

    /// Compares the tags; the one being changed may have its old or its new value.
    private func reconcileTags(_ database: Database, model: inout OpModel, context: String) throws {
        var tags: [String: UInt64] = [:]
        for tag in try database.tags() { tags[tag.name] = tag.version }
        if let (name, value) = model.tagInFlight {
            if tags[name] == model.tags[name] || tags[name] == value {
                model.tags[name] = tags[name]
            } else {
                problems.append("\(context): tag \(name) names \(tags[name].map(String.init) ?? "nothing"), expected \(model.tags[name].map(String.init) ?? "nothing") or \(value.map(String.init) ?? "nothing")")
            }
            model.tagInFlight = nil
        }
        if tags != model.tags { problems.append("\(context): tags \(tags) instead of \(model.tags)") }
    }

    /// Reads every version of the model whole, and runs the consistency check on all of them.
    func checkEveryVersion(_ database: Database, model: OpModel, context: String) {
        for (version, expected) in model.versions.sorted(by: { $0.key < $1.key }) {
            do {
                let got = try database.read(at: version) { try Self.readState($0) }
                if got != expected { problems.append("\(context): version \(version) reads \(OpModel.difference(got, expected))") }
            } catch {
                problems.append("\(context): version \(version) unreadable: \(error)")
            }
        }
        do {
            let report = try database.checkReport(allVersions: true)
            if !report.isClean { problems.append("\(context): check found \(report.problems.prefix(3))") }
        } catch CowDBError.io where backend.isCrashed {
            // The disk crashed after the last operation returned (a step it tolerates, such as
            // removing the old generation's files): check's look at the file's tail (`fstat`,
            // `pread`) fails like any system call now; the versions were read above.
        } catch {
            problems.append("\(context): check threw \(error)")
        }
    }
}
