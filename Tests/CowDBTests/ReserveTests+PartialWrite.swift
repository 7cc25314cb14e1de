import Foundation
import XCTest
@testable import CowDB
import CowDBStorage

/// Review of issue 14: `POSIXFile.write` loops over short `pwrite`s, so a write that fails
/// (ENOSPC once the file must grow, EIO) may leave its first bytes in the file. A run larger
/// than the appender's buffer is written directly, before the appender's `tail` moves past it;
/// `abandon` zeros and cuts only up to `tail` (and nothing at all when the run was the
/// commit's first append), so the run's bytes stay in the reserve: it is no longer zeros.
final class PartialWriteStorage: InterposedStorage, @unchecked Sendable {
    private let armed = Locked(false)

    /// The next data-file write of more than 256 KiB writes its first half, then fails (ENOSPC).
    func failNextLargeWriteHalfway() { armed.withLock { $0 = true } }

    /// A data file's write, failing halfway when armed.
    override func write(_ file: any StorageFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard file.path.hasSuffix("/data"), bytes.count > 256 << 10,
              armed.withLock({ armed in defer { armed = false }; return armed }) else { return try file.write(bytes, at: offset) }
        try file.write(UnsafeRawBufferPointer(rebasing: bytes[0 ..< bytes.count / 2]), at: offset)
        throw CowDBError.io(operation: "pwrite", path: file.path, errno: ENOSPC)
    }
}

final class ReservePartialWriteTests: XCTestCase {
    /// A transaction whose large value's write fails halfway leaves the reserve zeros.
    func testAFailedLargeRunLeavesTheReserveZeros() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        let backend = PartialWriteStorage(POSIXStorage())
        let db = try openDatabase(path: path, options: DatabaseOptions(), backend: backend)
        defer { try? db.close() }
        try db.write { try $0.put(b("first"), b("1")) }
        try db.write { try $0.put(b("second"), b("2")) } // makes the reserve
        backend.failNextLargeWriteHalfway()
        XCTAssertThrowsError(try db.write { try $0.put(b("big"), [UInt8](repeating: 0x62, count: 300 << 10)) })
        XCTAssertEqual(try db.dataFileTail().unfinishedBytes, 0, "the abandoned commit's bytes are left past the last commit")
        XCTAssertTrue(try db.checkReport(allVersions: true).isClean, "check finds the reserve not zeros")
        try db.write { try $0.put(b("third"), b("3")) }
        XCTAssertEqual(db.latestVersion, 3)
    }
}
