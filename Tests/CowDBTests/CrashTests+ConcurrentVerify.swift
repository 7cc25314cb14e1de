// The concurrent-writer crash sweep's check of a recovered database (see CrashTests+ConcurrentWriters.swift).

import Foundation
@testable import CowDB
import CowDBStorage

extension CrashTests {
    /// Opens `image` on a fresh backend and checks it against the run's logs; returns what was
    /// wrong (empty: nothing) and the version it opened at:
    /// - every version from 1 to the latest is listed, and each is the one before plus exactly
    ///   one pair: the next commit of one thread (a thread's commit i never before its commit
    ///   i − 1), one whose `write` was called, holding its exact value — so no commit is half
    ///   there and every version is a consistent prefix of the threads' commits;
    /// - every commit whose `write` returned first appears at the version it was acknowledged
    ///   as, and is still there, unchanged, at the latest; every version a reader saw is there
    ///   (readers never see a commit before it is durable);
    /// - `check` finds every version clean, and the database takes a new commit.
    static func verifyConcurrent(_ image: DiskImage, path: String, workload: ConcurrentWorkload,
                                 outcome: ConcurrentOutcome) -> (problems: [String], latest: UInt64?) {
        var problems: [String] = []
        var opened: UInt64?
        do {
            let db = try Database(path: path, options: concurrentOptions(), backend: FaultInjectionStorage(image: image)) // unchecked-open: static (no XCTestCase); it checks every version itself, below
            defer { try? db.close() }
            let latest = db.latestVersion
            opened = latest
            if latest < outcome.seen { problems.append("a reader saw version \(outcome.seen) before the crash; the image opens at \(latest)") }
            let versions = try db.versions().map(\.version)
            if versions != Array(latest == 0 ? [] : Array(1 ... latest)) {
                problems.append("versions \(versions) instead of 1...\(latest)")
            }
            let firstSeen = try walkVersions(db, latest: latest, workload: workload, outcome: outcome, problems: &problems)
            for (thread, ack) in outcome.acks {
                let name = "thread \(thread) commit \(ack.sequence) (acknowledged as version \(ack.version) at step \(ack.step)\(ack.afterCrash ? ", after the crash" : ""))"
                guard let version = firstSeen[ConcurrentWorkload.key(thread: thread, sequence: ack.sequence)] else {
                    problems.append("\(name) is missing at the latest version \(latest)")
                    continue
                }
                if version != ack.version { problems.append("\(name) first appears at version \(version)") }
            }
            let report = try db.checkReport(allVersions: true)
            if !report.isClean { problems.append("check: \(report.problems.prefix(3))") }
            try db.write { try $0.put(b("after-recovery"), b("\(latest)")) }
            if db.latestVersion != latest + 1 { problems.append("commit after recovery made version \(db.latestVersion)") }
        } catch {
            problems.append("\(error)")
        }
        return (problems, opened)
    }

    /// Reads versions 1 through `latest` whole and checks each against the one before (see
    /// `verifyConcurrent`); returns the version each key first appears at. The last version's
    /// entries are the latest's: a key seen once is still there, unchanged, at the latest.
    static func walkVersions(_ db: Database, latest: UInt64, workload: ConcurrentWorkload, outcome: ConcurrentOutcome,
                             problems: inout [String]) throws -> [[UInt8]: UInt64] {
        var firstSeen: [[UInt8]: UInt64] = [:]
        var next = Array(repeating: 0, count: workload.threads)
        var previous: [[UInt8]: [UInt8]] = [:]
        for version in latest == 0 ? [] : Array(1 ... latest) {
            let entries = try db.read(at: version) { txn in
                Dictionary(try txn.scan().map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            }
            defer { previous = entries }
            let added = entries.keys.filter { previous[$0] == nil }
            let changed = previous.keys.filter { entries[$0] != previous[$0] }
            guard added.count == 1, changed.isEmpty, let key = added.first else {
                problems.append("version \(version) is not version \(version - 1) plus one pair: \(added.count) added, \(changed.count) changed or gone")
                return firstSeen
            }
            guard let (thread, sequence) = ConcurrentWorkload.parse(key), thread < workload.threads else {
                problems.append("version \(version) adds a key no thread writes: \(String(decoding: key, as: UTF8.self))")
                return firstSeen
            }
            if sequence != next[thread] {
                problems.append("version \(version) adds thread \(thread)'s commit \(sequence) where its commit \(next[thread]) was next")
            }
            if sequence >= outcome.logs[thread].started {
                problems.append("version \(version) holds thread \(thread)'s commit \(sequence), whose write was never called")
            }
            if entries[key] != workload.value(thread: thread, sequence: sequence) {
                problems.append("version \(version): thread \(thread)'s commit \(sequence) holds a wrong value")
            }
            next[thread] = max(next[thread], sequence + 1)
            firstSeen[key] = version
        }
        return firstSeen
    }
}
