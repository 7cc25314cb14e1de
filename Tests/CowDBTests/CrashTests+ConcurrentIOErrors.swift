// The I/O error sweep with concurrent writers (issue 14): one failing sync or write under the
// four writer threads of the concurrent crash sweep (CrashTests+ConcurrentWriters.swift).

import Foundation
import XCTest
@testable import CowDB
import CowDBStorage
#if canImport(Glibc)
import Glibc
#endif

extension CrashTests {
    /// One fault of the sweep: write number n fails, or sync number n fails and keeps or drops
    /// the dirty pages.
    enum ConcurrentFault: CustomStringConvertible {
        case write(Int, Int32)
        case sync(Int, FaultInjectionStorage.SyncFailure)

        var description: String {
            switch self {
            case let .write(number, error): "write \(number) fails (errno \(error))"
            case let .sync(number, failure): "sync \(number) fails (\(failure))"
            }
        }
    }

    /// Each write and sync of the concurrent workload failing in turn (a seeded sample of 40 by
    /// default; every one with `COWDB_FULL_SWEEP=1`); a thread stops at its first error. In the
    /// live database the commits that returned are versions 1 through their count, and nothing
    /// else is visible (a failed sync fails every commit it covered and poisons the writer; a
    /// failed write fails its own commit alone); the page cache and the disk after the close
    /// hold every commit that returned, as `verifyConcurrent` checks.
    func testIOErrorSweepConcurrentWriters() throws {
        let name = "io-error-sweep-concurrent"
        let full = ProcessInfo.processInfo.environment["COWDB_FULL_SWEEP"] == "1"
        let workload = ConcurrentWorkload(seed: testSeed(name), commits: 15)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let started = Date()
        let counter = FaultInjectionStorage()
        guard checkCleanConcurrentRun(workload, backend: counter, path: path, name: name) != nil else { return }
        let (writes, syncs, _) = counter.counts
        var faults: [ConcurrentFault] = (1 ... writes).map { .write($0, $0 % 2 == 0 ? ENOSPC : EIO) }
        faults += (1 ... syncs).flatMap { [ConcurrentFault.sync($0, .keepDirty), .sync($0, .dropPages)] }
        var random = SeededGenerator(seed: workload.seed)
        if !full { faults = Array(faults.shuffled(using: &random).prefix(40)) }
        var failures: [String] = []
        var failedCommits = 0
        for fault in faults {
            let backend = FaultInjectionStorage()
            switch fault {
            case let .write(number, error): backend.failWrite(number: number, errno: error)
            case let .sync(number, failure): backend.failSync(number: number, errno: EIO, failure: failure)
            }
            let outcome = Self.runConcurrent(workload, backend: backend, path: path)
            failedCommits += outcome.logs.filter { $0.error != nil }.count
            var problems = Self.runProblems(outcome) + Self.visibleProblems(outcome)
            for (label, kind) in [("page cache", FaultInjectionStorage.ImageKind.processCrash), ("disk", .durableOnly)] {
                problems += Self.verifyConcurrent(backend.image(kind), path: path, workload: workload, outcome: outcome).problems.map { "\(label): \($0)" }
            }
            if !problems.isEmpty { failures.append("\(fault): \(problems.prefix(3).joined(separator: "; "))") }
        }
        announce("\(name): seed \(workload.seed), \(writes) writes and \(syncs) syncs; tried \(faults.count) failing writes or syncs, "
            + "\(failedCommits) threads stopped by an error, in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        for failure in failures.prefix(10) { XCTFail("\(name) seed \(workload.seed): \(failure)") }
        if failures.count > 10 { XCTFail("\(name): \(failures.count) failures in all") }
    }

    /// What the live database showed wrong after a run with a fault: the commits that returned
    /// must be versions 1 through their count, the latest version that count, and the reader
    /// must have seen nothing newer.
    static func visibleProblems(_ outcome: ConcurrentOutcome) -> [String] {
        guard outcome.openError == nil else { return [] }
        let acknowledged = UInt64(outcome.acks.count)
        var problems: [String] = []
        let versions = outcome.acks.map(\.ack.version).sorted()
        if versions != Array(acknowledged == 0 ? [] : Array(1 ... acknowledged)) {
            problems.append("the commits that returned are versions \(versions)")
        }
        if outcome.latestAtEnd != acknowledged {
            problems.append("the latest version is \(outcome.latestAtEnd) with \(acknowledged) commits returned (errors: \(outcome.logs.compactMap(\.error).prefix(2)))")
        }
        if outcome.seen > acknowledged { problems.append("a reader saw version \(outcome.seen) with \(acknowledged) commits returned") }
        return problems
    }
}
