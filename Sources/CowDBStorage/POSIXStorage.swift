import CowDBFormat
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real storage backend: POSIX file descriptors, `pread`/`pwrite`, `fdatasync`, `mmap`.
public struct POSIXStorage: StorageBackend {
    /// Mode bits for new files, never world-writable; the process umask still applies.
    public var fileMode: mode_t

    /// A backend creating files with `fileMode` (default 0o644, less the umask); the
    /// world-write bit is always cleared.
    public init(fileMode: mode_t = 0o644) { self.fileMode = fileMode & 0o664 }

    public func open(_ path: String, create: Bool, readOnly: Bool) throws -> any StorageFile {
        var flags = readOnly ? O_RDONLY : O_RDWR
        if create { flags |= O_CREAT }
        // O_NOFOLLOW: a symbolic link planted in the database directory is never followed
        // out of it (the open fails with ELOOP instead).
        flags |= O_CLOEXEC | O_NOFOLLOW
        let fd = Glibc.open(path, flags, fileMode)
        guard fd >= 0 else { throw CowDBError.io(operation: "open", path: path, errno: errno) }
        return POSIXFile(fd: fd, path: path)
    }

    public func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw CowDBError.io(operation: "mkdir", path: prefix, errno: errno)
            }
            prefix += "/"
        }
    }

    public func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw CowDBError.io(operation: "rename", path: from, errno: errno) }
    }

    public func unlink(_ path: String) throws {
        guard Glibc.unlink(path) == 0 || errno == ENOENT else { throw CowDBError.io(operation: "unlink", path: path, errno: errno) }
    }

    public func syncDirectory(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw CowDBError.io(operation: "open directory", path: path, errno: errno) }
        defer { _ = Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw CowDBError.io(operation: "fsync directory", path: path, errno: errno) }
    }
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

    package func length() throws -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CowDBError.io(operation: "fstat", path: path, errno: errno) }
        return UInt64(info.st_size)
    }

    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CowDBError.io(operation: "pread", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    package func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CowDBError.io(operation: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    package func sync() throws {
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw CowDBError.io(operation: "fdatasync", path: path, errno: errno)
        }
    }

    package func truncate(to length: UInt64) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw CowDBError.io(operation: "ftruncate", path: path, errno: errno) }
    }

    package func map(reservedLength: Int) throws -> MappedRegion {
        guard let address = mmap(nil, reservedLength, PROT_READ, MAP_SHARED, fd, 0), address != MAP_FAILED else {
            throw CowDBError.io(operation: "mmap", path: path, errno: errno)
        }
        let bits = UInt(bitPattern: address)
        return MappedRegion(base: UnsafeRawPointer(address), reservedLength: reservedLength) {
            _ = munmap(UnsafeMutableRawPointer(bitPattern: bits), reservedLength)
        }
    }

    package func close() {
        let fd = descriptor.exchange(-1, ordering: .relaxed)
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    deinit { close() }
}
