import Foundation
import Synchronization
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage

/// Group commit (Generation+Publish.swift): commits of several threads queued behind a sync
/// share the next one; none is visible before its sync; a failed sync fails every commit it
/// covered and shows none of them.
final class GroupCommitTests: XCTestCase {
    /// Runs `write`s of one key each on threads of their own; returns each one's outcome by key.
    private final class Writers: @unchecked Sendable {
        let outcomes = Locked<[String: Result<Void, any Error>]>([:])
        private var threads: [Thread] = []

        func start(_ db: Database, keys: [String]) {
            for key in keys {
                let thread = Thread { [outcomes] in
                    let outcome = Result { try db.write { try $0.put(b(key), b("value of \(key)")) } }
                    outcomes.withLock { $0[key] = outcome }
                }
                threads.append(thread)
                thread.start()
            }
        }

        func join() { while threads.contains(where: { !$0.isFinished }) { usleep(1_000) } }
    }

    /// Waits (up to 10 s) until `condition` holds.
    private func waitUntil(_ what: String, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            guard Date() < deadline else { return XCTFail("timed out waiting until \(what)") }
            usleep(500)
        }
    }

    /// Commits versions 1 and 2 (the second makes the reserve, with a sync of its own).
    private func twoFirstCommits(_ db: Database) throws {
        try db.write { try $0.put(b("first"), b("1")) }
        try db.write { try $0.put(b("second"), b("2")) }
        XCTAssertGreaterThan(db.generation.reserveBytes, 0)
    }

    /// Holds the sync of commit "a"; queues "b", "c", "d" behind it; checks that nobody sees
    /// any of them (this process, or another instance following through the lock file); then
    /// releases: "a" alone, then the three together, two syncs for four commits.
    private func queueBehindAHeldSync(_ db: Database, _ backend: HeldSyncStorage, follower: Database?) throws -> Writers {
        backend.holdNextDataSync()
        let writers = Writers()
        writers.start(db, keys: ["a"])
        XCTAssertEqual(backend.entered.wait(timeout: .now() + 10), .success, "the first commit never reached its sync")
        writers.start(db, keys: ["b", "c", "d"])
        waitUntil("four commits are queued") { db.generation.queuedCommits == 4 }
        XCTAssertEqual(db.latestVersion, 2, "a commit is visible before its sync")
        for key in ["a", "b", "c", "d"] { XCTAssertNil(try db.read { try $0.get(b(key)) }, "\(key) is visible before its sync") }
        if let follower {
            XCTAssertEqual(follower.latestVersion, 2, "another instance sees a commit before its sync")
        }
        backend.release()
        writers.join()
        return writers
    }

    func testCommitsQueuedBehindASyncShareTheNextAndStayInvisibleUntilIt() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = HeldSyncStorage(POSIXStorage())
        let db = try openDatabase(path: path, options: DatabaseOptions(), backend: backend)
        try twoFirstCommits(db)
        var readOnly = DatabaseOptions()
        readOnly.readOnly = true
        let follower = try openDatabase(path: path, options: readOnly)
        let syncsBefore = backend.dataSyncs
        let writers = try queueBehindAHeldSync(db, backend, follower: follower)
        for (key, outcome) in writers.outcomes.withLock({ $0 }) {
            if case .failure(let error) = outcome { XCTFail("write of \(key) failed: \(error)") }
        }
        XCTAssertEqual(backend.dataSyncs - syncsBefore, 2, "four commits, the last three queued behind the first's sync: two syncs")
        XCTAssertEqual(db.latestVersion, 6)
        XCTAssertEqual(follower.latestVersion, 6)
        XCTAssertEqual(try db.read(at: 3) { try $0.get(b("a")) }, b("value of a"), "the held commit is version 3")
        // The queued three are versions 4–6 in the order the gate admitted them: each adds one key.
        for version in UInt64(4) ... 6 {
            let count = try db.read(at: version) { txn in try ["b", "c", "d"].filter { try txn.get(b($0)) != nil }.count }
            XCTAssertEqual(count, Int(version) - 3, "version \(version)")
        }
        XCTAssertEqual(try db.versions().map(\.version), [1, 2, 3, 4, 5, 6])
        try follower.close()
        try db.checkAndClose()
        let reopened = try openDatabase(path: path)
        XCTAssertEqual(reopened.latestVersion, 6)
        try reopened.checkAndClose()
    }

    func testAFailedGroupSyncFailsEveryCommitItCoveredAndShowsNone() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // the lock file's
        let disk = FaultInjectionStorage(durableDirectories: [path])
        let backend = HeldSyncStorage(disk)
        let db = try openDatabase(path: path, options: DatabaseOptions(), backend: backend)
        try twoFirstCommits(db)
        // The held sync (of "a") succeeds; the next, the group's, fails and drops the pages.
        disk.failSync(number: disk.locked { disk.syncs } + 2, errno: EIO, failure: .dropPages)
        let writers = try queueBehindAHeldSync(db, backend, follower: nil)
        let outcomes = writers.outcomes.withLock { $0 }
        if case .failure(let error) = outcomes["a"] { XCTFail("the first commit's own sync succeeded, yet it failed: \(error)") }
        for key in ["b", "c", "d"] {
            guard case .failure(let error) = outcomes[key] else { XCTFail("\(key) returned although its sync failed"); continue }
            guard case CowDBError.io(operation: "fdatasync", _, EIO) = error else { XCTFail("\(key): \(error)"); continue }
        }
        XCTAssertEqual(db.latestVersion, 3, "a commit of the failed group became visible")
        for key in ["b", "c", "d"] { XCTAssertNil(try db.read { try $0.get(b(key)) }) }
        XCTAssertEqual(try db.read { try $0.get(b("a")) }, b("value of a"))
        XCTAssertThrowsError(try db.write { try $0.put(b("e"), b("e")) }) { error in
            guard case CowDBError.writerPoisoned = error else { return XCTFail("expected writerPoisoned, got \(error)") }
        }
        try? db.close()
        let recovered = try openDatabase(path: path, options: DatabaseOptions(), backend: FaultInjectionStorage(image: disk.image(.durableOnly)))
        XCTAssertEqual(recovered.latestVersion, 3, "after a power cut: the acknowledged commits, and none of the failed group")
        for key in ["b", "c", "d"] { XCTAssertNil(try recovered.read { try $0.get(b(key)) }) }
        try recovered.checkAndClose()
    }

    /// Four threads commit durably at once: every `write` that returns has its version
    /// visible to its own thread right away, versions are distinct and dense, and each
    /// thread's values appear in its own order.
    func testConcurrentDurableWritersReadTheirWritesInOrder() throws {
        let directory = TemporaryDirectory()
        let db = try openDatabase(path: directory.path("db"))
        let failures = Mutex<[String]>([])
        let threads = (0 ..< 4).map { thread in
            Thread {
                for i in 0 ..< 60 {
                    do {
                        try db.write { try $0.put(b("t\(thread)"), b("\(i)")) }
                        let seen = try db.read { try $0.get(b("t\(thread)")) }
                        if seen != b("\(i)") { failures.withLock { $0.append("thread \(thread) wrote \(i), then read \(seen.map { String(decoding: $0, as: UTF8.self) } ?? "nothing")") } }
                    } catch {
                        failures.withLock { $0.append("thread \(thread), commit \(i): \(error)") }
                    }
                }
            }
        }
        threads.forEach { $0.start() }
        while threads.contains(where: { !$0.isFinished }) { usleep(1_000) }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertEqual(try db.versions().map(\.version), Array(1 ... 240))
        for thread in 0 ..< 4 {
            var last = -1
            for version in UInt64(1) ... 240 {
                guard let value = try db.read(at: version, { try $0.get(b("t\(thread)")) }) else { continue }
                let i = Int(String(decoding: value, as: UTF8.self))!
                XCTAssertTrue(i == last || i == last + 1, "thread \(thread): \(last) then \(i) at version \(version)")
                last = i
            }
            XCTAssertEqual(last, 59)
        }
        try db.checkAndClose()
    }
}
