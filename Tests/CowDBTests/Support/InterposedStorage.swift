import Foundation
@testable import CowDB
import CowDBStorage

/// A storage backend that passes everything to another one; subclasses override `length`,
/// `write` or `sync` of a file to hold, fail or reorder one call (group commit's and the
/// reserve's tests). The forwarding is written once, here.
class InterposedStorage: StorageBackend, @unchecked Sendable {
    let inner: any StorageBackend

    /// Wraps `inner`.
    init(_ inner: any StorageBackend) { self.inner = inner }

    /// A file's `length()` (default: passed on).
    func length(_ file: any StorageFile) throws -> UInt64 { try file.length() }
    /// A file's `write` (default: passed on).
    func write(_ file: any StorageFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws { try file.write(bytes, at: offset) }
    /// A file's `sync()` (default: passed on).
    func sync(_ file: any StorageFile) throws { try file.sync() }

    /// Whether `path` is a generation's data file (`data` or `data.G`).
    static func isDataFile(_ path: String) -> Bool { path.hasSuffix("/data") || path.contains("/data.") }

    func open(_ path: String, create: Bool, readOnly: Bool) throws -> any StorageFile {
        InterposedFile(try inner.open(path, create: create, readOnly: readOnly), backend: self)
    }
    func exists(_ path: String) -> Bool { inner.exists(path) }
    func makeDirectory(_ path: String) throws { try inner.makeDirectory(path) }
    func rename(_ from: String, _ to: String) throws { try inner.rename(from, to) }
    func unlink(_ path: String) throws { try inner.unlink(path) }
    func syncDirectory(_ path: String) throws { try inner.syncDirectory(path) }
}

/// A file of `InterposedStorage`: its `length`, `write` and `sync` go through the backend.
private final class InterposedFile: StorageFile, @unchecked Sendable {
    let file: any StorageFile
    let backend: InterposedStorage

    init(_ file: any StorageFile, backend: InterposedStorage) {
        self.file = file
        self.backend = backend
    }

    var path: String { file.path }
    func length() throws -> UInt64 { try backend.length(file) }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int { try file.read(into: buffer, at: offset) }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws { try backend.write(file, bytes, at: offset) }
    func sync() throws { try backend.sync(file) }
    func truncate(to length: UInt64) throws { try file.truncate(to: length) }
    func map(reservedLength: Int) throws -> MappedRegion { try file.map(reservedLength: reservedLength) }
    func close() { file.close() }
}
