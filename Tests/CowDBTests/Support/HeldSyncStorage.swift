import Foundation
@testable import CowDB
import CowDBStorage

/// A storage backend that passes everything to another one, but can hold the next
/// `fdatasync` of a data file until the test releases it (to make commits queue behind a
/// sync, deterministically), and counts the data file's syncs. A held sync has done its work
/// (on what was written before it began) and is slow to return: writes made while it is held
/// are not covered by it, as with a real `fdatasync` that began before them.
final class HeldSyncStorage: StorageBackend, @unchecked Sendable {
    let inner: any StorageBackend
    private let state = Locked<(armed: Bool, dataSyncs: Int)>((false, 0))
    /// Signalled when a held sync has begun (and is waiting for `release`).
    let entered = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)

    /// Wraps `inner`.
    init(_ inner: any StorageBackend) { self.inner = inner }

    /// The data file's syncs so far.
    var dataSyncs: Int { state.withLock { $0.dataSyncs } }

    /// Holds the next data-file sync until `release()`.
    func holdNextDataSync() { state.withLock { $0.armed = true } }

    /// Lets the held sync go on.
    func release() { released.signal() }

    /// Called by a file after its sync: counts a data file's, and holds it when armed.
    fileprivate func afterSync(of path: String) {
        guard path.hasSuffix("/data") || path.contains("/data.") else { return }
        let hold = state.withLock { state -> Bool in
            state.dataSyncs += 1
            defer { state.armed = false }
            return state.armed
        }
        if hold {
            entered.signal()
            released.wait()
        }
    }

    func open(_ path: String, create: Bool, readOnly: Bool) throws -> any StorageFile {
        HeldSyncFile(try inner.open(path, create: create, readOnly: readOnly), backend: self)
    }
    func exists(_ path: String) -> Bool { inner.exists(path) }
    func makeDirectory(_ path: String) throws { try inner.makeDirectory(path) }
    func rename(_ from: String, _ to: String) throws { try inner.rename(from, to) }
    func unlink(_ path: String) throws { try inner.unlink(path) }
    func syncDirectory(_ path: String) throws { try inner.syncDirectory(path) }
}

/// A file of `HeldSyncStorage`.
private final class HeldSyncFile: StorageFile, @unchecked Sendable {
    let file: any StorageFile
    let backend: HeldSyncStorage

    init(_ file: any StorageFile, backend: HeldSyncStorage) {
        self.file = file
        self.backend = backend
    }

    var path: String { file.path }
    func length() throws -> UInt64 { try file.length() }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int { try file.read(into: buffer, at: offset) }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws { try file.write(bytes, at: offset) }
    func sync() throws {
        defer { backend.afterSync(of: file.path) }
        try file.sync()
    }
    func truncate(to length: UInt64) throws { try file.truncate(to: length) }
    func map(reservedLength: Int) throws -> MappedRegion { try file.map(reservedLength: reservedLength) }
    func close() { file.close() }
}
