// The crash harness: checking a recovered database against the run's outcome.

import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension CrashTests {
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
    static func difference(_ got: State, _ expected: State) -> String { ModelState.difference(got, expected) }

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

    /// `verify`, also returning the version the database opened at; with `thenCompact`, a
    /// packing compaction of the recovered database must succeed and keep every version.
    static func verifyReturningLatest(_ image: DiskImage, path: String, durability: DatabaseOptions.Durability, outcome: Outcome,
                                      expectation: Expectation, thenCompact: Bool = false) -> (problems: [String], latest: UInt64?) {
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
            if thenCompact { problems += try compactAgain(db, path: path, backend: backend, versions: versions) }
        } catch {
            problems.append("\(error)")
        }
        return (problems, opened)
    }

    /// Compacts a recovered database keeping every version and packing all but the latest: it
    /// must succeed, keep `versions` (and the commit after recovery), pass `check`, and leave
    /// only the new generation's files.
    static func compactAgain(_ db: Database, path: String, backend: FaultInjectionStorage, versions: [UInt64]) throws -> [String] {
        var problems: [String] = []
        let before = try versions.map { version in try db.read(at: version) { try readState($0).0 } }
        let report = try db.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        let after = try db.versions().map(\.version)
        if Array(after.prefix(versions.count)) != versions || after.count != versions.count + 1 {
            problems.append("the compaction after recovery kept versions \(after), not \(versions) and one more")
        }
        for (version, state) in zip(versions, before) where try db.read(at: version, { try readState($0).0 }) != state {
            problems.append("version \(version) changed in the compaction after recovery")
        }
        let check = try db.checkReport(allVersions: true)
        if !check.isClean { problems.append("check after the compaction after recovery: \(check.problems.prefix(3))") }
        let expected: Set<String> = [CurrentFile.dataName(report.generation), CurrentFile.indexName(report.generation)]
        let stale = Set(backend.files(in: path)).filter { name in
            (name.hasPrefix("data") || name.hasPrefix("index") || name.hasSuffix(".tmp")) && !expected.contains(name)
        }
        if !stale.isEmpty { problems.append("files left after the compaction after recovery: \(stale.sorted())") }
        return problems
    }
}
