// The open files of FaultInjectionStorage and the operations on them (see FaultInjectionStorage.swift).

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
#if canImport(Glibc)
import Glibc
#endif

extension FaultInjectionStorage {
    // MARK: File operations (called by FaultFile)

    func length(_ file: FaultFile) throws -> UInt64 {
        try locked {
            try checkOpen(file, "fstat")
            return UInt64(file.inode.length)
        }
    }

    func read(_ file: FaultFile, into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try locked {
            try checkOpen(file, "pread")
            let inode = file.inode
            guard offset < UInt64(inode.length) else { return 0 }
            let count = min(buffer.count, inode.length - Int(offset))
            if count > 0 { buffer.baseAddress!.copyMemory(from: inode.base + Int(offset), byteCount: count) }
            return count
        }
    }

    func write(_ file: FaultFile, _ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try locked {
            try checkOpen(file, "pwrite")
            if file.readOnly { throw CowDBError.io(operation: "pwrite", path: file.path, errno: EBADF) }
            try step("pwrite", file.path)
            writes += 1
            if let fault = writeFault, writes == fault.number || (fault.persistent && writes > fault.number) {
                throw CowDBError.io(operation: "pwrite", path: file.path, errno: fault.errno)
            }
            let end = Int(offset) + bytes.count
            guard end <= Self.arenaSize else { throw CowDBError.io(operation: "pwrite", path: file.path, errno: EFBIG) }
            file.inode.write(Array(bytes), at: Int(offset))
            afterStep()
        }
    }

    func sync(_ file: FaultFile) throws {
        try locked {
            try checkOpen(file, "fdatasync")
            try step("fdatasync", file.path)
            syncs += 1
            if let fault = syncFault, syncs == fault.number || (fault.persistent && syncs > fault.number) {
                switch fault.failure {
                case .keepDirty: break
                case .dropPages:
                    file.inode.dropDirtyPages()
                    droppedPages += 1
                case .markClean: file.inode.unsynced = []
                }
                throw CowDBError.io(operation: "fdatasync", path: file.path, errno: fault.errno)
            }
            file.inode.sync()
            afterStep()
        }
    }

    func truncate(_ file: FaultFile, to length: UInt64) throws {
        try locked {
            try checkOpen(file, "ftruncate")
            if file.readOnly { throw CowDBError.io(operation: "ftruncate", path: file.path, errno: EINVAL) }
            try step("ftruncate", file.path)
            if let errno = truncateFault {
                truncateFault = nil
                throw CowDBError.io(operation: "ftruncate", path: file.path, errno: errno)
            }
            guard length <= UInt64(Self.arenaSize) else { throw CowDBError.io(operation: "ftruncate", path: file.path, errno: EFBIG) }
            file.inode.truncate(to: Int(length))
            afterStep()
        }
    }

    func map(_ file: FaultFile, reservedLength: Int) throws -> MappedRegion {
        try locked {
            try checkOpen(file, "mmap")
            let inode = file.inode
            // The whole arena is reserved, whatever was asked: report what is really there.
            return MappedRegion(base: UnsafeRawPointer(inode.base), reservedLength: min(reservedLength, Self.arenaSize)) {
                withExtendedLifetime(inode) {}
            }
        }
    }
}

/// An open file of `FaultInjectionStorage`.
final class FaultFile: StorageFile, @unchecked Sendable {
    let backend: FaultInjectionStorage
    let inode: Inode
    let path: String
    let readOnly: Bool
    /// Guarded by the backend's lock.
    var closed = false

    init(backend: FaultInjectionStorage, inode: Inode, path: String, readOnly: Bool) {
        self.backend = backend
        self.inode = inode
        self.path = path
        self.readOnly = readOnly
    }

    func length() throws -> UInt64 { try backend.length(self) }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int { try backend.read(self, into: buffer, at: offset) }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws { try backend.write(self, bytes, at: offset) }
    func sync() throws { try backend.sync(self) }
    func truncate(to length: UInt64) throws { try backend.truncate(self, to: length) }
    func map(reservedLength: Int) throws -> MappedRegion { try backend.map(self, reservedLength: reservedLength) }
    func close() { backend.closeFile(self) }
}

extension FaultInjectionStorage {
    /// The names of the files the process currently sees directly in `directory`.
    func files(in directory: String) -> [String] {
        locked { volatileNames.keys.filter { Self.parent(of: $0) == directory }.map { String($0.dropFirst(directory.count + 1)) }.sorted() }
    }
}
