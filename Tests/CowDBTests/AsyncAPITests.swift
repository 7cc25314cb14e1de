import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage

/// The async API runs on CowDB's own threads: it never blocks the cooperative pool, honours
/// cancellation until a commit starts, and returns what the blocking calls return.
final class AsyncAPITests: XCTestCase {
    func testAsyncCallsMatchTheBlockingOnes() async throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        let first = try await db.write { txn in
            try txn.put(b("a"), b("1"))
            return txn.version + 1
        }
        XCTAssertEqual(first, 1)
        let before = Date()
        try await Task.sleep(nanoseconds: 2_000_000)
        try await db.write { try $0.put(b("a"), b("2")) }
        let latest = try await db.read { try $0.get(b("a")) }
        let old = try await db.read(at: 1) { try $0.get(b("a")) }
        let asOf = try await db.read(asOf: before) { $0.version }
        XCTAssertEqual(latest, b("2"))
        XCTAssertEqual(old, b("1"))
        XCTAssertEqual(asOf, 1)
        do {
            _ = try await db.read(at: 9) { $0.version }
            XCTFail("read(at: 9) returned")
        } catch {
            XCTAssertEqual(error as? CowDBError, .versionNotFound(9))
        }
        let backup = try await db.backup(to: directory.path("backup"))
        XCTAssertEqual(backup.version, 2)
        let report = try await db.compact(keeping: RetentionPolicy(keepLast: 1))
        XCTAssertEqual(report.versionsKept, 1)
        let version = try await db.read { $0.version }
        XCTAssertEqual(version, 2)
        let copy = try openDatabase(path: directory.path("backup"))
        let copied = try await copy.read(at: 1) { try $0.get(b("a")) }
        XCTAssertEqual(copied, b("1"))
    }

    /// Twelve reads block inside their closures until a task on the cooperative pool releases
    /// them: were they on the pool (two threads here), that task could never run.
    func testBlockedTransactionsDoNotHoldTheCooperativePool() async throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try await db.write { try $0.put(b("k"), b("v")) }
        let gate = DispatchSemaphore(value: 0)
        let started = Locked(0)
        let reads = (0 ..< 12).map { _ in
            Task {
                try await db.read { txn -> [UInt8]? in
                    started.withLock { $0 += 1 }
                    gate.wait()
                    return try txn.get(b("k"))
                }
            }
        }
        let releaser = Task {
            // Runs on the cooperative pool while the reads block.
            while started.withLock({ $0 }) < 12 { try await Task.sleep(nanoseconds: 1_000_000) }
            for _ in 0 ..< 12 { gate.signal() }
        }
        // A watchdog outside the pool: were it a task, it would be stuck with the others.
        let finished = Locked(false), rescued = Locked(false)
        DispatchQueue.global().asyncAfter(deadline: .now() + 20) {
            guard !finished.withLock({ $0 }) else { return }
            rescued.withLock { $0 = true }
            for _ in 0 ..< 24 { gate.signal() }
        }
        for read in reads {
            let value = try await read.value
            XCTAssertEqual(value, b("v"))
        }
        finished.withLock { $0 = true }
        XCTAssertFalse(rescued.withLock { $0 }, "the reads were never released: they blocked the cooperative pool")
        releaser.cancel()
    }

    func testACancelledTaskCommitsNothing() async throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try await db.write { try $0.put(b("k"), b("0")) }
        // Cancelled before the write starts: the closure never runs.
        let ran = Locked(false)
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await db.write { txn in
                ran.withLock { $0 = true }
                try txn.put(b("k"), b("early"))
            }
        }
        await assertCancelled(early)
        XCTAssertFalse(ran.withLock { $0 })
        // Cancelled while the transaction runs: its changes are discarded.
        let inside = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let late = Task {
            try await db.write { txn in
                try txn.put(b("k"), b("late"))
                inside.signal()
                release.wait()
            }
        }
        await Task.detached { inside.wait() }.value
        late.cancel()
        release.signal()
        await assertCancelled(late)
        XCTAssertEqual(db.latestVersion, 1)
        let value = try await db.read { try $0.get(b("k")) }
        XCTAssertEqual(value, b("0"))
        // The writer is fine afterwards.
        try await db.write { try $0.put(b("k"), b("1")) }
        XCTAssertEqual(db.latestVersion, 2)
    }

    /// Concurrent async writers share syncs (group commit) and every commit lands once, in a dense run of versions.
    func testConcurrentAsyncWritersLandEveryCommit() async throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0 ..< 6 {
                group.addTask {
                    for i in 0 ..< 20 { try await db.write { try $0.put(b("w\(writer)-\(i)"), b("\(i)")) } }
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(db.latestVersion, 120)
        let count = try await db.read { try $0.count }
        XCTAssertEqual(count, 120)
        XCTAssertEqual(try db.versions().map(\.version), Array(1 ... 120))
    }

    /// Fails unless `task` threw `CancellationError`.
    private func assertCancelled<T>(_ task: Task<T, any Error>, file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await task.value
            XCTFail("the cancelled task completed", file: file, line: line)
        } catch {
            XCTAssertTrue(error is CancellationError, "threw \(error)", file: file, line: line)
        }
    }
}
