import Foundation
import XCTest
@testable import CowDB
import CowDBStorage

/// Review of issue 14: `stats()` reads the data file's length (`fileBytes`) and then, in
/// `dataFileTail`, the length again for `reserveBytes`. A top-up between the two makes
/// `reserveBytes > fileBytes`, and automatic compaction's `stats.fileBytes - stats.reserveBytes`
/// (Database+Compaction.swift) traps on the UInt64 underflow.
final class LengthHoldingStorage: InterposedStorage, @unchecked Sendable {
    private let armed = Locked(false)
    /// Signalled when a held `length()` has read the length (and waits for `release`).
    let entered = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    /// Holds the next data-file `length()` after it has read the length.
    func holdNextLength() { armed.withLock { $0 = true } }

    /// Lets the held `length()` return.
    func release() { released.signal() }

    /// A data file's `length()`, held when armed.
    override func length(_ file: any StorageFile) throws -> UInt64 {
        let length = try file.length()
        guard file.path.hasSuffix("/data"), armed.withLock({ armed in defer { armed = false }; return armed }) else { return length }
        entered.signal()
        _ = released.wait(timeout: .now() + 10)
        return length
    }
}

final class ReserveStatsRaceTests: XCTestCase {
    /// Stats taken while the writer's second commit makes the reserve: the reserve they report
    /// must fit in the file they report.
    func testStatsReserveNeverExceedsTheFileBytesTheyReport() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = LengthHoldingStorage(POSIXStorage())
        let db = try openDatabase(path: path, options: DatabaseOptions(), backend: backend)
        defer { try? db.close() }
        try db.write { try $0.put(b("first"), b("1")) } // no reserve yet: a few pages
        backend.holdNextLength()
        let stats = Locked<Result<DatabaseStats, any Error>?>(nil)
        let thread = Thread { let r = Result { try db.stats() }; stats.withLock { $0 = r } }
        thread.start()
        XCTAssertEqual(backend.entered.wait(timeout: .now() + 10), .success, "stats never read the length")
        try db.write { try $0.put(b("second"), b("2")) } // tops the reserve up (256 KiB)
        backend.release()
        while stats.withLock({ $0 }) == nil { usleep(1_000) }
        let result = try XCTUnwrap(stats.withLock { $0 }).get()
        XCTAssertLessThanOrEqual(result.reserveBytes, result.fileBytes,
                                 "reserveBytes > fileBytes: automatic compaction's fileBytes - reserveBytes traps")
    }
}
