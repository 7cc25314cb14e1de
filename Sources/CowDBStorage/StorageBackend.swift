import CowDBFormat
// The storage layer's contract: the few file operations CowDB needs. The engine never calls
// the operating system for its data and index files except through these protocols, so a
// test backend can fail the Nth write or sync, stop the world mid-write, or flip bits.

/// A read-only view of a file's bytes from offset 0, reserving address space beyond the
/// file's end so the file can grow without moving the view. Bytes past the file's current
/// length must not be touched. The view lives until the last reference to it goes.
public final class MappedRegion: @unchecked Sendable {
    /// First byte of the file.
    public let base: UnsafeRawPointer
    /// Bytes of address space reserved (may exceed the file's length).
    public let reservedLength: Int
    private let release: @Sendable () -> Void

    /// Wraps a mapping; `release` unmaps it when the last reference goes.
    public init(base: UnsafeRawPointer, reservedLength: Int, release: @escaping @Sendable () -> Void) {
        self.base = base
        self.reservedLength = reservedLength
        self.release = release
    }

    deinit { release() }
}

/// One open file of the storage layer.
public protocol StorageFile: AnyObject, Sendable {
    /// The path the file was opened with (for error messages).
    var path: String { get }
    /// Current length in bytes (`fstat`).
    func length() throws -> UInt64
    /// Reads up to `buffer.count` bytes at `offset`; returns how many were read (`pread`).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int
    /// Writes all of `bytes` at `offset`, extending the file if needed (`pwrite`).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws
    /// Makes every write so far durable (`fdatasync`).
    func sync() throws
    /// Sets the length (`ftruncate`).
    func truncate(to length: UInt64) throws
    /// A read-only shared view of the file reserving `reservedLength` bytes of address space (`mmap`).
    func map(reservedLength: Int) throws -> MappedRegion
    /// Closes the descriptor; further calls fail.
    func close()
}

/// Opens files and changes directories; the engine's only door to the file system.
public protocol StorageBackend: Sendable {
    /// Opens `path` read-write (or read-only), creating it when `create` is set.
    func open(_ path: String, create: Bool, readOnly: Bool) throws -> any StorageFile
    /// Whether something exists at `path`.
    func exists(_ path: String) -> Bool
    /// Creates a directory and its missing parents (`mkdir -p`), syncing nothing: a new
    /// database then syncs every level of its path (`syncEveryLevel(of:)`).
    func makeDirectory(_ path: String) throws
    /// Atomically renames `from` to `to` (`rename`).
    func rename(_ from: String, _ to: String) throws
    /// Removes a file (`unlink`); a missing file is not an error.
    func unlink(_ path: String) throws
    /// Makes the directory's entries durable (`fsync` on the directory).
    func syncDirectory(_ path: String) throws
}
