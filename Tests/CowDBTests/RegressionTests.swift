import Foundation
import Synchronization
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
#if canImport(Glibc)
import Glibc
#endif

// Regression tests for bugs found in review of the storage engine: each one failed (four
// crashed, one hung) before its fix.

// MARK: - Test backends

/// A POSIX backend whose index-file writes can be made to fail, and which can run a hook
/// when the data file is mapped.
final class ReviewBackend: StorageBackend, @unchecked Sendable {
    let base = POSIXStorage()
    let failIndexWrites = Atomic<Bool>(false)
    var onMapData: (() -> Void)?

    func open(_ path: String, create: Bool, readOnly: Bool) throws -> any StorageFile {
        ReviewFile(inner: try base.open(path, create: create, readOnly: readOnly), backend: self)
    }
    func exists(_ path: String) -> Bool { base.exists(path) }
    func makeDirectory(_ path: String) throws { try base.makeDirectory(path) }
    func rename(_ from: String, _ to: String) throws { try base.rename(from, to) }
    func unlink(_ path: String) throws { try base.unlink(path) }
    func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
}

final class ReviewFile: StorageFile, @unchecked Sendable {
    let inner: any StorageFile
    unowned let backend: ReviewBackend
    init(inner: any StorageFile, backend: ReviewBackend) { self.inner = inner; self.backend = backend }
    var path: String { inner.path }
    func length() throws -> UInt64 { try inner.length() }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int { try inner.read(into: buffer, at: offset) }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        if path.hasSuffix("/index"), backend.failIndexWrites.load(ordering: .relaxed) {
            throw CowDBError.io(operation: "pwrite", path: path, errno: EIO)
        }
        try inner.write(bytes, at: offset)
    }
    func sync() throws { try inner.sync() }
    func truncate(to length: UInt64) throws { try inner.truncate(to: length) }
    func map(reservedLength: Int) throws -> MappedRegion {
        if path.hasSuffix("/data"), let hook = backend.onMapData {
            backend.onMapData = nil
            hook()
        }
        return try inner.map(reservedLength: reservedLength)
    }
    func close() { inner.close() }
}

final class RegressionTests: XCTestCase {
    private func fastOptions() -> DatabaseOptions {
        var options = DatabaseOptions()
        options.durability = .none
        options.mapReservation = 1 << 30
        return options
    }

    // MARK: 1. Redistribution can grow a full parent past a page (crashes)

    /// `TreeMutator.rebalance` (the trap: `TreeMutator.write(_ node:)`'s precondition) — redistributing two leaves replaces a 1-byte separator in
    /// the parent by a long one; nothing re-splits the parent, so write() hits
    /// `precondition(node.size <= layout.pageSize)` and the process traps. Committed-data loss
    /// of the transaction plus a crash.
    func testRedistributionSeparatorCanOverflowParent() throws {
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("db"), options: fastOptions())
        func key(_ group: Int, _ i: Int) -> [UInt8] { [UInt8(group)] + [UInt8](repeating: 0x78, count: 898) + [UInt8(i)] }
        let value = [UInt8](repeating: 7, count: 90) // entry = 17 + 900 + 90 = 1007 bytes; 4 fill a 4 KiB leaf
        try db.write { txn in
            for group in 1 ... 194 { for i in 0 ..< 4 { try txn.put(key(group, i), value) } }
        }
        // Leaf of group 100 drops to one entry (< page/4); its right neighbour is full, so the
        // two are evened out and the new separator is 900 bytes long.
        try db.write { txn in for i in 1 ..< 4 { try txn.delete(key(100, i)) } }
        try db.read { txn in
            XCTAssertEqual(try txn.count, 194 * 4 - 3)
            XCTAssertEqual(try txn.get(key(101, 3)), value)
        }
        try db.checkAndClose()
    }

    // MARK: 2. Cursor keeps a stale PageReader after a spill that changed nothing

    /// `Cursor.next`/`previous`/`fresh` + `WriteTransaction.delete`/`insert` — `delete` of an absent key (or
    /// `insert` of a present one) runs spillIfOverBudget but does not bump the mutation stamp.
    /// The cursor keeps its TreeCursor, whose PageReader limit predates the spilled pages, and
    /// its in-memory parent now points at those pages: next() throws a spurious `corrupt`.
    func testCursorSurvivesSpillWithoutMutation() throws {
        let dir = TemporaryDirectory()
        var options = fastOptions()
        options.dirtyPageBudget = 16 * 4096 // budget: 16 nodes
        let db = try openDatabase(path: dir.path("db"), options: options)
        func key(_ i: Int) -> [UInt8] { Array(String(format: "k%06d", i).utf8) }
        let value = [UInt8](repeating: 1, count: 100)
        try db.write { txn in for i in 0 ..< 3000 { try txn.put(key(i), value) } }
        try db.write { txn in
            // Touch 16 distinct leaves: 17 dirty nodes (root + 16), no spill yet.
            for n in 0 ..< 16 { try txn.put(key(n * 150), [2]) }
            var cursor = try txn.cursor()
            XCTAssertNotNil(try cursor.first())
            XCTAssertFalse(try txn.delete(b("absent"))) // spills, changes nothing
            var seen = 1
            while try cursor.next() != nil { seen += 1 }
            XCTAssertEqual(seen, 3000)
        }
        try db.checkAndClose()
    }

    // MARK: 3. Keyspace names that are canonically equivalent share one tree

    /// `ReadTransaction.named` and `ReadTransaction.tree(_:)` — `named` was a [String: TreeState]. Swift String equality is
    /// Unicode canonical equivalence, but the catalog keys are the raw UTF-8 bytes. "é" (U+00E9)
    /// and "e\u{301}" are two keyspaces on disk, yet one transaction hands the first one's
    /// tree out for the second: reads return wrong results, writes go to the wrong keyspace.
    func testCanonicallyEquivalentKeyspaceNamesAreDistinct() throws {
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("db"), options: fastOptions())
        let composed = "\u{E9}", decomposed = "e\u{301}"
        XCTAssertNotEqual(Array(composed.utf8), Array(decomposed.utf8))
        try db.write { txn in try txn.createKeyspace(composed).put(b("a"), b("1")) }
        try db.write { txn in try txn.createKeyspace(decomposed).put(b("b"), b("2")) }
        try db.read { txn in
            XCTAssertEqual(try txn.keyspaces().count, 2)
            XCTAssertEqual(try txn.keyspace(composed).get(b("a")), b("1"))
            XCTAssertEqual(try txn.keyspace(decomposed).get(b("b")), b("2"), "second keyspace read through the first one's tree")
        }
        try db.write { txn in
            _ = try txn.keyspace(composed).count()
            try txn.keyspace(decomposed).put(b("c"), b("3"))
        }
        try db.read { txn in
            XCTAssertNil(try txn.keyspace(composed).get(b("c")), "write to one keyspace landed in another")
        }
        try db.checkAndClose()
    }

    // MARK: 4. Index record appended outside the state lock (race)

    /// `Database.publish` — `log.append` ran after the sync but outside the state mutex, before
    /// `state.latest` moves. A reader in that window sees the new index record but the old
    /// latest: `read(asOf:)` throws `corrupt("index names a commit record past the latest
    /// commit")`, and `versions()` lists a version that `read(at:)` rejects. (Also a data race
    /// on RootLog.fileCount / pending.)
    func testReadAsOfDuringCommitsNeverThrows() throws {
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("db"), options: fastOptions())
        try db.write { try $0.put(b("k"), b("0")) }
        let done = Atomic<Bool>(false)
        let errors = Mutex<[String]>([])
        let group = DispatchGroup()
        for _ in 0 ..< 3 {
            group.enter()
            Thread {
                defer { group.leave() }
                let future = Date(timeIntervalSinceNow: 3600)
                while !done.load(ordering: .relaxed) {
                    do {
                        _ = try db.read(asOf: future) { try $0.get(b("k")) }
                        if let last = try db.versions().last { _ = try db.read(at: last.version) { $0.version } }
                    } catch {
                        errors.withLock { $0.append("\(error)") }
                    }
                }
            }.start()
        }
        for i in 1 ... 1500 { try db.write { try $0.put(b("k"), b("\(i)")) } }
        done.store(true, ordering: .relaxed)
        group.wait()
        let found = errors.withLock { $0 }
        XCTAssertTrue(found.isEmpty, "\(found.count) reads failed, e.g. \(found.prefix(2))")
        try db.close()
    }

    // MARK: 5. Hostile totals trap (crashes)

    /// `WriteTransaction.put` (also its `insert`, and `TreeMutator.put`) — `totalCount += 1` and
    /// `tree.count += 1` trap on overflow. A file whose commit record says totalCount = 2^64-1
    /// (checksums recomputed) makes the next put trap instead of throwing; deletes/drops already
    /// use wrapping arithmetic for exactly this reason.
    func testHostileTotalCountDoesNotTrap() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        do {
            let db = try Database(path: path, options: DatabaseOptions()) // unchecked-open: the test plants a hostile count in it
            try db.write { try $0.put(b("a"), b("1")) }
            try db.close()
        }
        let data = path + "/data"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: data)))
        let pageSize = 4096
        let commitPage = bytes.count / pageSize - 1
        bytes.withUnsafeMutableBytes { raw in
            let page = UnsafeMutableRawBufferPointer(rebasing: raw[commitPage * pageSize ..< (commitPage + 1) * pageSize])
            XCTAssertEqual(page[4], 4)
            page.setU64(UInt64.max, 72)
            PageHeader.seal(page, pageNumber: PageNumber(commitPage))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: data))
        let db = try Database(path: path, options: DatabaseOptions()) // unchecked-open: the hostile copy planted above
        do {
            try db.write { try $0.put(b("b"), b("2")) }
        } catch is CowDBError {}
        try? db.close()
    }

    // MARK: 6. Read-only process without an index file never learns intermediate versions

    /// `RootLog.init` and `RootLog.refresh` (+ `Database.refreshFromWriter`) — a read-only process opened while `index` was
    /// missing keeps `readOnlyWithoutFile` forever: refresh() returns early and refreshFromWriter
    /// adds only the newest published record, so versions committed in between are unreachable.
    func testReadOnlyProcessWithoutIndexSeesEveryVersion() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        do {
            let db = try openDatabase(path: path, options: fastOptions())
            try db.write { try $0.put(b("k"), b("1")) }
            try db.close()
        }
        try FileManager.default.removeItem(atPath: path + "/index") // the index is a rebuildable cache
        var readOptions = fastOptions()
        readOptions.readOnly = true
        let reader = try openDatabase(path: path, options: readOptions)
        let writer = try openDatabase(path: path, options: fastOptions())
        try writer.write { try $0.put(b("k"), b("2")) }
        try writer.write { try $0.put(b("k"), b("3")) }
        XCTAssertEqual(reader.latestVersion, 3)
        XCTAssertEqual(try reader.read(at: 2) { try $0.get(b("k")) }, b("2"))
        XCTAssertEqual(try reader.versions().map(\.version), [1, 2, 3])
        try reader.close()
        try writer.close()
    }

    // MARK: 7. Read-only refresh traps after the writer's index append failed (crashes)

    /// `RootLog.refresh` — `for i in count ..< min(newCount, inFile)` traps when the reader already
    /// knows more records than the file holds. The writer keeps a record `pending` when its
    /// index write fails (RootLog.append) but publishes indexCount = log.count; the reader adds
    /// a synthetic record for it (`Database.refreshFromWriter`); on the next commit count > inFile.
    func testReadOnlyRefreshAfterFailedIndexWriteDoesNotTrap() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        let backend = ReviewBackend()
        let writer = try openDatabase(path: path, options: fastOptions(), backend: backend)
        try writer.write { try $0.put(b("k"), b("1")) }
        var readOptions = fastOptions()
        readOptions.readOnly = true
        let reader = try openDatabase(path: path, options: readOptions)
        backend.failIndexWrites.store(true, ordering: .relaxed)
        try writer.write { try $0.put(b("k"), b("2")) } // index append fails: record stays pending
        XCTAssertEqual(try reader.read { try $0.get(b("k")) }, b("2"))
        try writer.write { try $0.put(b("k"), b("3")) }
        XCTAssertEqual(try reader.read { try $0.get(b("k")) }, b("3")) // traps in RootLog.refresh
        backend.failIndexWrites.store(false, ordering: .relaxed)
        try reader.close()
        try writer.close()
    }

    // MARK: 8. Read-only open races a writer's truncation (crashes: SIGBUS)

    /// `Database.init` + `Recovery`'s tail scan — a read-only open takes the file length, maps,
    /// then scans the tail up to that length. The tail past the last commit belongs to the
    /// running write transaction, which truncates it when it aborts (discardTail). If that
    /// happens between the length and the scan, the reader touches mapped pages past EOF:
    /// SIGBUS. The hook below makes the interleaving deterministic (writer aborts while the
    /// reader maps the data file).
    func testReadOnlyOpenDuringWriterAbortDoesNotCrash() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("db")
        let writer = try openDatabase(path: path, options: DatabaseOptions())
        try writer.write { try $0.put(b("k"), b("1")) }
        let written = DispatchSemaphore(value: 0), abort = DispatchSemaphore(value: 0), aborted = DispatchSemaphore(value: 0)
        struct Abort: Error {}
        Thread {
            _ = try? writer.write { txn in
                try txn.put(b("big"), [UInt8](repeating: 9, count: 1 << 20)) // overflow run written now
                written.signal()
                abort.wait()
                throw Abort()
            }
            aborted.signal()
        }.start()
        written.wait()
        let backend = ReviewBackend()
        backend.onMapData = {
            abort.signal()
            aborted.wait() // the writer has truncated its tail
        }
        var readOptions = DatabaseOptions()
        readOptions.readOnly = true
        let reader = try openDatabase(path: path, options: readOptions, backend: backend)
        XCTAssertEqual(try reader.read { try $0.get(b("k")) }, b("1"))
        try reader.close()
        try writer.close()
    }

    // MARK: 9. close() inside a write closure deadlocks (hang)

    /// `Database.close` — close() took the non-recursive writer gate. Called from inside a
    /// write closure it waits for itself forever (a nested write throws `busy`; so should
    /// close).
    func testCloseInsideWriteDoesNotHang() throws {
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("db"), options: fastOptions())
        let finished = DispatchSemaphore(value: 0)
        Thread {
            _ = try? db.write { txn in
                try txn.put(b("k"), b("v"))
                try db.close()
            }
            finished.signal()
        }.start()
        XCTAssertEqual(finished.wait(timeout: .now() + 3), .success, "close() inside write() deadlocked")
    }

    /// A range read took its order check's key heads from the leaf, which stores them beside
    /// the keys: a damaged leaf (checksum recomputed) whose heads still ascend while its keys do
    /// not passed out-of-order keys off as a range. The heads now come from the keys.
    func testARangeReadChecksKeysNotTheHeadsALeafStores() throws {
        let directory = TemporaryDirectory()
        let intact = directory.path("intact"), path = directory.path("damaged")
        do {
            let db = try openDatabase(path: intact)
            try db.write { txn in for key in ["k1", "k2", "k3"] { try txn.put(Array(key.utf8), [7]) } }
            try db.close()
        }
        try FileManager.default.copyItem(atPath: intact, toPath: path)
        let data = directory.path("damaged/data"), pageSize = 4096
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: data)))
        let leaf = try XCTUnwrap((1 ..< bytes.count / pageSize).first { number in
            bytes.withUnsafeBytes { file in
                let page = UnsafeRawBufferPointer(rebasing: file[number * pageSize ..< (number + 1) * pageSize])
                guard let view = try? LeafPageView(page, number: PageNumber(number)), view.count == 3,
                      let key = try? view.key(1) else { return false }
                return Array(key) == Array("k2".utf8)
            }
        })
        bytes.withUnsafeMutableBytes { file in
            let page = UnsafeMutableRawBufferPointer(rebasing: file[leaf * pageSize ..< (leaf + 1) * pageSize])
            let cell = Int(UnsafeRawBufferPointer(page).u16(LeafPage.cellOffsetOffset(1, count: 3)))
            page[cell + LeafPage.cellHeaderSize + 1] = UInt8(ascii: "0") // "k2" becomes "k0"; its head stays k2's
            PageHeader.seal(page, pageNumber: PageNumber(leaf))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: data))
        let db = try Database(path: path) // unchecked-open: the leaf is damaged on purpose
        defer { try? db.close() }
        XCTAssertThrowsError(try db.read { txn in
            try txn.withEntries(limit: 10) { _, _ in true }
        }) { error in
            guard case CowDBError.corrupt = error else { return XCTFail("\(error)") }
        }
    }
}
