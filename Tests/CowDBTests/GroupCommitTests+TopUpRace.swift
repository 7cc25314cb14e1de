import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage

/// Review of issue 14: the reserve's top-up syncs the data file under the writer gate while a
/// group's leader syncs it outside the gate. On Linux both `fdatasync`s share one open file,
/// whose writeback error (errseq) is reported once: if the top-up's sync takes the error for
/// the group's dropped pages, the leader's returns 0, and its check of `poisoned` races with the
/// top-up thread's `poison`. This storage makes that interleaving deterministic.
final class TopUpRaceStorage: InterposedStorage, @unchecked Sendable {
    /// 0: idle; 1: armed (the next data sync is the leader's, held); 2: the leader is held.
    private let phase = Locked<Int>(0)
    /// Signalled when the leader's sync is held (before it did anything).
    let leaderEntered = DispatchSemaphore(value: 0)
    private let leaderGo = DispatchSemaphore(value: 0)
    /// Signalled when the top-up's sync has failed (before it returns its error).
    let topUpFailed = DispatchSemaphore(value: 0)
    private let topUpGo = DispatchSemaphore(value: 0)

    /// Holds the next data-file sync (the leader's) until another data-file sync has run.
    func armLeader() { phase.withLock { $0 = 1 } }

    /// Lets the failed top-up sync return its error.
    func releaseTopUp() { topUpGo.signal() }

    /// A data file's sync, in the order the race needs.
    override func sync(_ file: any StorageFile) throws {
        guard file.path.hasSuffix("/data") else { return try file.sync() }
        let role = phase.withLock { phase -> Int in
            defer { if phase == 1 { phase = 2 } else if phase == 2 { phase = 0 } }
            return phase
        }
        switch role {
        case 1: // the leader: its sync starts after the top-up's failed one (at most 3 s later)
            leaderEntered.signal()
            _ = leaderGo.wait(timeout: .now() + 1) // a writer that serializes its syncs never lets the top-up's run
            try file.sync()
        case 2: // the top-up: fails; the leader's sync runs before this thread sees its error
            do { try file.sync() } catch {
                leaderGo.signal()
                topUpFailed.signal()
                _ = topUpGo.wait(timeout: .now() + 10)
                throw error
            }
            leaderGo.signal()
        default:
            try file.sync()
        }
    }
}

final class GroupCommitTopUpRaceTests: XCTestCase {
    /// A commit whose `write` returned must survive a power cut: here the top-up's failed sync
    /// dropped the leader's group, and the leader's own sync (after it) found nothing to write.
    func testALeaderDoesNotPublishAGroupWhoseErrorATopUpSyncTook() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // the lock file's
        let disk = FaultInjectionStorage(durableDirectories: [path])
        let backend = TopUpRaceStorage(disk)
        let db = try openDatabase(path: path, options: DatabaseOptions(), backend: backend)
        try db.write { try $0.put(b("first"), b("1")) }
        try db.write { try $0.put(b("second"), b("2")) } // makes the reserve
        let reserve = db.generation.reserveBytes
        XCTAssertGreaterThan(reserve, 128 << 10)
        // "a" fills the reserve so far that the next commit ("b") tops it up.
        let big = [UInt8](repeating: 0x61, count: Int(reserve) - (72 << 10))
        backend.armLeader()
        let outcomeA = Locked<Result<Void, any Error>?>(nil)
        let threadA = Thread { let r = Result { try db.write { try $0.put(b("a"), big) } }; outcomeA.withLock { $0 = r } }
        threadA.start()
        XCTAssertEqual(backend.leaderEntered.wait(timeout: .now() + 10), .success, "a's sync never started")
        disk.failNextSync(errno: EIO, failure: .dropPages) // the next sync to run: the top-up's
        let outcomeB = Locked<Result<Void, any Error>?>(nil)
        let threadB = Thread { let r = Result { try db.write { try $0.put(b("b"), b("2")) } }; outcomeB.withLock { $0 = r } }
        threadB.start()
        _ = backend.topUpFailed.wait(timeout: .now() + 1) // not if the top-up waits for the leader's sync (a fix)
        let deadline = Date().addingTimeInterval(3)
        while outcomeA.withLock({ $0 }) == nil, Date() < deadline { usleep(1_000) }
        backend.releaseTopUp()
        while outcomeA.withLock({ $0 }) == nil || outcomeB.withLock({ $0 }) == nil { usleep(1_000) }
        let acknowledged = (try? outcomeA.withLock({ $0 })?.get()) != nil
        let visible = db.latestVersion
        let image = disk.image(.durableOnly) // a power cut now
        try? db.close()
        let recovered = try openDatabase(path: path, options: DatabaseOptions(), backend: FaultInjectionStorage(image: image))
        defer { try? recovered.close() }
        if acknowledged {
            XCTAssertTrue(try recovered.read { try $0.get(b("a")) } == big, "a's write returned, yet a power cut lost it")
        }
        XCTAssertLessThanOrEqual(visible, recovered.latestVersion, "version \(visible) was visible but not durable")
    }
}
