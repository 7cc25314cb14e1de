import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension CrashTests {
    /// Runs the workload on `backend` from `start` until it ends or an operation throws.
    ///
    /// With `tolerateFaults` it behaves like an application on a failing disk instead: a
    /// commit that throws an I/O error is dropped (a failed `pwrite` must leave no version);
    /// after a failed sync, or a close that fails, the database is closed and opened again,
    /// and a commit whose sync failed counts if recovery kept it; an open that fails is retried.
    static func run(_ workload: [Step], backend: FaultInjectionStorage, path: String, durability: DatabaseOptions.Durability,
                    from start: Outcome = Outcome(), tolerateFaults: Bool = false) -> Outcome {
        var run = HarnessRun(backend: backend, path: path, durability: durability, tolerateFaults: tolerateFaults, outcome: start)
        do {
            try run.open()
            for step in workload {
                switch step {
                case .reopen:
                    try run.close()
                    try run.open()
                case let .compact(keepLast, packing):
                    try run.compact(keepLast: keepLast, packing: packing)
                case let .commit(mutations):
                    try run.commit(mutations)
                }
            }
            try run.close()
        } catch {
            run.outcome.error = error
        }
        return run.outcome
    }

    /// One run of a workload (`CrashTests.run`): the database as it goes, and what it acknowledged.
    struct HarnessRun {
        let backend: FaultInjectionStorage
        let path: String
        let durability: DatabaseOptions.Durability
        let tolerateFaults: Bool
        var outcome: Outcome
        var db: Database?
        /// A commit whose sync failed: present after the reopen or not.
        var uncertain: State?

        init(backend: FaultInjectionStorage, path: String, durability: DatabaseOptions.Durability, tolerateFaults: Bool, outcome: Outcome) {
            self.backend = backend
            self.path = path
            self.durability = durability
            self.tolerateFaults = tolerateFaults
            self.outcome = outcome
        }

        /// Opens the database (retrying an I/O error when tolerating faults) and accounts for
        /// what recovery kept: a commit whose sync failed counts if it is there.
        mutating func open() throws {
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
        mutating func acknowledge(_ mutations: [Mutation], making next: State) throws {
            let latest = db!.latestVersion
            guard changes(mutations, outcome.models.last!) else {
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

        /// Closes the database; when tolerating faults, a close that fails is followed by an
        /// open and a close.
        mutating func close() throws {
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

        /// Compacts keeping the newest `keepLast` versions (nil: all), packing what `packing`
        /// says; the latest must stay as it was, and after a packing one every version.
        mutating func compact(keepLast: Int?, packing: Packing) throws {
            let latest = outcome.acknowledged
            let droppable = keepLast.map { latest > UInt64($0) ? Set(1 ... latest - UInt64($0)) : [] } ?? []
            outcome.mayBeDropped.formUnion(droppable)
            let firstStep = backend.counts.steps + 1
            defer { outcome.compactionSteps.append(firstStep ... max(firstStep, backend.counts.steps)) }
            do {
                let policy = keepLast.map { RetentionPolicy(keepLast: $0, keepTags: false) } ?? RetentionPolicy(keepAll: true)
                try db!.compact(keeping: policy, packing: packing)
                if packing != .none { try checkEveryVersion(after: "a packing compaction") }
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
        }

        /// Reads every version the database lists and compares it with the model.
        mutating func checkEveryVersion(after what: String) throws {
            for version in try db!.versions().map(\.version) where !outcome.dropped.contains(version) {
                let (state, order) = try db!.read(at: version) { try readState($0) }
                outcome.violations += order.map { "version \(version) after \(what): \($0)" }
                if state != outcome.models[Int(version)] {
                    outcome.violations.append("version \(version) after \(what) reads back wrong: \(difference(state, outcome.models[Int(version)]))")
                }
            }
        }

        /// Commits `mutations`; an application retries a commit that failed (the faults are one-shot).
        mutating func commit(_ mutations: [Mutation]) throws {
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
                        try recoverFromFailedSync(committing: next)
                        if outcome.acknowledged > acknowledgedBefore { break } // recovery kept it
                    }
                    continue
                }
                outcome.inFlight = nil
                try acknowledge(mutations, making: next)
                break
            }
        }

        /// After a commit's sync failed: the writer is poisoned and the commit (`next`) may or
        /// may not be on disk; a write must fail, then a close and an open find out.
        mutating func recoverFromFailedSync(committing next: State) throws {
            uncertain = next
            do {
                try db!.write { try $0.put(b("poisoned?"), b("")) }
                outcome.violations.append("a write after a failed sync succeeded")
            } catch let error as CowDBError {
                if case .writerPoisoned = error {} else { outcome.violations.append("after a failed sync, a write threw \(error)") }
            }
            try close()
            try open()
        }
    }
}
