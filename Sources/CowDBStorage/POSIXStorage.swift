import CowDBFormat
import Synchronization

/// The real storage backend: file descriptors, `pread`/`pwrite`, `fdatasync`, `mmap`, through
/// the operating system calls of OS+Files.swift.
public struct POSIXStorage: StorageBackend {
    /// Mode bits for new files, never world-writable; the process umask still applies.
    public var fileMode: UInt32

    /// A backend creating files with `fileMode` (default 0o644, less the umask); the
    /// world-write bit is always cleared.
    public init(fileMode: UInt32 = 0o644) { self.fileMode = fileMode & 0o664 }

    /// Opens `path` (creating it when `create`), never following a symbolic link.
    public func open(_ path: String, create: Bool, readOnly: Bool) throws -> any StorageFile {
        // A symbolic link planted in the database directory is never followed out of it (the
        // open fails with ELOOP instead).
        POSIXFile(fd: try OS.open(path, writable: !readOnly, create: create, mode: fileMode), path: path)
    }

    /// Whether something exists at `path`.
    public func exists(_ path: String) -> Bool { OS.exists(path) }

    /// Creates `path` and any missing parent directories.
    public func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            try OS.makeDirectory(prefix)
            prefix += "/"
        }
    }

    /// Renames `from` to `to` atomically (replacing `to`).
    public func rename(_ from: String, _ to: String) throws { try OS.rename(from, to) }

    /// Removes the file at `path`.
    public func unlink(_ path: String) throws { try OS.unlink(path) }

    /// Makes the directory's entries (creations, renames, removals) durable with `fsync`.
    public func syncDirectory(_ path: String) throws { try OS.syncDirectory(path) }
}

/// A file descriptor of `POSIXStorage`.
package final class POSIXFile: StorageFile, @unchecked Sendable {
    private let descriptor: Atomic<Int32>
    package let path: String

    package init(fd: Int32, path: String) {
        self.descriptor = Atomic(fd)
        self.path = path
    }

    /// The open descriptor (-1 once closed, which makes every call fail with EBADF).
    private var fd: Int32 { descriptor.load(ordering: .relaxed) }

    package func length() throws -> UInt64 { try OS.length(fd, path: path) }

    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try OS.read(fd, into: buffer, at: offset, path: path)
    }

    package func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try OS.write(fd, bytes, at: offset, path: path)
    }

    package func sync() throws { try OS.syncData(fd, path: path) }

    package func truncate(to length: UInt64) throws { try OS.resize(fd, to: length, path: path) }

    package func map(reservedLength: Int) throws -> MappedRegion {
        let address = try OS.mapShared(fd, length: reservedLength, writable: false, path: path)
        let bits = UInt(bitPattern: address)
        return MappedRegion(base: UnsafeRawPointer(address), reservedLength: reservedLength) {
            OS.unmap(UnsafeMutableRawPointer(bitPattern: bits)!, length: reservedLength)
        }
    }

    package func close() {
        let fd = descriptor.exchange(-1, ordering: .relaxed)
        if fd >= 0 { OS.close(fd) }
    }

    deinit { close() }
}
