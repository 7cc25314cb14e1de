import CowDBFormat
import SystemPackage
#if os(Linux)
import Glibc
#endif

// The file system calls (OS.swift says why they are all here). A file is its descriptor, an
// `Int32`; a failure throws `CowDBError.io` named after the C call. The reads and writes of
// pages and the syncs allocate nothing.

extension OS {
    /// Opens `path` read-write (creating it with `mode`, less the umask, when `create` is set) or
    /// read-only. Never follows a symbolic link at the end of `path` (it fails with ELOOP), and
    /// the descriptor is closed on exec.
    package static func open(_ path: String, writable: Bool, create: Bool, mode: UInt32) throws -> Int32 {
        var options: FileDescriptor.OpenOptions = [.closeOnExec, .noFollow]
        if create { options.insert(.create) }
        let descriptor = try io("open", path) {
            try FileDescriptor.open(FilePath(path), writable ? .readWrite : .readOnly, options: options,
                                    permissions: create ? FilePermissions(rawValue: mode) : nil)
        }
        return descriptor.rawValue
    }

    /// Closes a descriptor; a failure is ignored (the descriptor is gone either way on Linux,
    /// so it is never retried).
    package static func close(_ fd: Int32) { try? FileDescriptor(rawValue: fd).close() }

    /// Reads up to `buffer.count` bytes at `offset`, fewer only at the end of the file ("pread").
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, path: String) throws -> Int {
        let file = FileDescriptor(rawValue: fd)
        var done = 0
        while done < buffer.count {
            let n = try io("pread", path) {
                try file.read(fromAbsoluteOffset: Int64(offset) + Int64(done), into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `bytes` at `offset` ("pwrite").
    package static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws {
        let file = FileDescriptor(rawValue: fd)
        var done = 0
        while done < bytes.count {
            done += try io("pwrite", path) {
                try file.write(toAbsoluteOffset: Int64(offset) + Int64(done), UnsafeRawBufferPointer(rebasing: bytes[done...]))
            }
        }
    }

    /// Makes the file's data (and the metadata needed to read it) durable ("fdatasync").
    package static func syncData(_ fd: Int32, path: String) throws {
        let (_, code) = retryingInterrupted { fdatasync(fd) }
        if code != 0 { throw CowDBError.io(operation: "fdatasync", path: path, errno: code) }
    }

    /// Sets the file's length ("ftruncate").
    package static func resize(_ fd: Int32, to length: UInt64, path: String) throws {
        try io("ftruncate", path) { try FileDescriptor(rawValue: fd).resize(to: Int64(length)) }
    }

    /// The file's length in bytes ("fstat").
    package static func length(_ fd: Int32, path: String) throws -> UInt64 {
        UInt64(try io("fstat", path) { try FileDescriptor(rawValue: fd).stat().size })
    }

    /// Maps `length` bytes of the file from offset 0, shared, read-only or read-write ("mmap").
    package static func mapShared(_ fd: Int32, length: Int, writable: Bool, path: String) throws -> UnsafeMutableRawPointer {
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        guard let address = mmap(nil, length, protection, MAP_SHARED, fd, 0), address != MAP_FAILED else {
            throw CowDBError.io(operation: "mmap", path: path, errno: errno)
        }
        return address
    }

    /// Reserves `length` bytes of zeroed private memory that takes memory only where it is
    /// touched (`MAP_NORESERVE`); nil when there is no address space for it.
    package static func mapAnonymous(length: Int) -> UnsafeMutableRawPointer? {
        let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let address, address != MAP_FAILED else { return nil }
        return address
    }

    /// Removes a map made by `mapShared` or `mapAnonymous`.
    package static func unmap(_ address: UnsafeMutableRawPointer, length: Int) { _ = munmap(address, length) }

    /// Whether something exists at `path` (a symbolic link is followed).
    package static func exists(_ path: String) -> Bool { retryingInterrupted { access(path, F_OK) }.result == 0 }

    /// Creates one directory (mode 0o755 less the umask); one that exists already is no error ("mkdir").
    package static func makeDirectory(_ path: String) throws {
        let (result, code) = retryingInterrupted { mkdir(path, 0o755) }
        if result != 0, code != EEXIST { throw CowDBError.io(operation: "mkdir", path: path, errno: code) }
    }

    /// Atomically renames `from` to `to` ("rename").
    package static func rename(_ from: String, _ to: String) throws {
        let (result, code) = retryingInterrupted { Glibc.rename(from, to) }
        if result != 0 { throw CowDBError.io(operation: "rename", path: from, errno: code) }
    }

    /// Removes a file; a missing one is no error ("unlink").
    package static func unlink(_ path: String) throws {
        let (result, code) = retryingInterrupted { Glibc.unlink(path) }
        if result != 0, code != ENOENT { throw CowDBError.io(operation: "unlink", path: path, errno: code) }
    }

    /// Makes a directory's entries durable ("open directory", then "fsync directory").
    package static func syncDirectory(_ path: String) throws {
        let directory = try io("open directory", path) {
            try FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec])
        }
        defer { try? directory.close() }
        let (result, code) = retryingInterrupted { fsync(directory.rawValue) }
        if result != 0 { throw CowDBError.io(operation: "fsync directory", path: path, errno: code) }
    }
}
