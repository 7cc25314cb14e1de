// One file of FaultInjectionStorage: its page cache, its durable bytes and the writes between them.

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
#if canImport(Glibc)
import Glibc
#endif

/// One file's contents: the page cache (an anonymous mapping) and the disk.
final class Inode: @unchecked Sendable {
    /// Volatile bytes [0, length); the rest of the arena is zero.
    let base: UnsafeMutableRawPointer
    var length: Int
    /// What a power cut leaves (before the unsynced operations).
    var durable: [UInt8]
    /// Writes and truncations since the last sync, in program order.
    var unsynced: [Operation] = []

    enum Operation {
        case write(offset: Int, bytes: [UInt8])
        case truncate(length: Int)
    }

    init(_ bytes: [UInt8]) {
        let address = mmap(nil, FaultInjectionStorage.arenaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let address, address != MAP_FAILED else { fatalError("FaultInjectionStorage: cannot reserve address space (errno \(errno))") }
        base = address
        length = bytes.count
        durable = bytes
        bytes.withUnsafeBytes { if $0.count > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    }

    deinit { munmap(base, FaultInjectionStorage.arenaSize) }

    func write(_ bytes: [UInt8], at offset: Int) {
        bytes.withUnsafeBytes { if $0.count > 0 { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        length = max(length, offset + bytes.count)
        unsynced.append(.write(offset: offset, bytes: bytes))
    }

    func truncate(to newLength: Int) {
        if newLength < length { (base + newLength).initializeMemory(as: UInt8.self, repeating: 0, count: length - newLength) }
        length = newLength
        unsynced.append(.truncate(length: newLength))
    }

    /// Makes the volatile state durable (applying the unsynced operations in order gives it,
    /// unless a failed sync marked pages clean: their bytes never reach the disk, but the
    /// length, which is metadata, does).
    func sync() {
        for operation in unsynced { Self.apply(operation, to: &durable, prefix: nil) }
        unsynced = []
        Self.apply(.truncate(length: length), to: &durable, prefix: nil)
    }

    /// The cache forgets its dirty pages: it shows the disk again (the length stays).
    func dropDirtyPages() {
        let shown = min(length, durable.count)
        durable.withUnsafeBytes { if shown > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: shown) } }
        if length > shown { (base + shown).initializeMemory(as: UInt8.self, repeating: 0, count: length - shown) }
        if durable.count < length { durable += [UInt8](repeating: 0, count: length - durable.count) }
        unsynced = []
    }

    /// Durable bytes plus a random subset of the unsynced operations in random order, one
    /// write possibly torn.
    func powerCutBytes(using random: inout SeededGenerator, tear: Bool) -> [UInt8] {
        var bytes = durable
        var chosen: [Operation]
        switch Int.random(in: 0 ..< 4, using: &random) {
        case 0: chosen = unsynced // everything reached the disk
        default: chosen = unsynced.filter { _ in Bool.random(using: &random) }
        }
        chosen.shuffle(using: &random)
        let writes = chosen.indices.filter { if case .write = chosen[$0] { return true } else { return false } }
        let torn = tear && !writes.isEmpty ? writes.randomElement(using: &random) : nil
        // Sometimes the new length reached the disk (metadata) but not the data: zeros.
        if Int.random(in: 0 ..< 4, using: &random) == 0 {
            let end = unsynced.reduce(0) { end, operation in
                if case let .write(offset, data) = operation { return max(end, offset + data.count) } else { return end }
            }
            if end > bytes.count { bytes += [UInt8](repeating: 0, count: end - bytes.count) }
        }
        for index in chosen.indices {
            var prefix: Int?
            if index == torn, case let .write(_, data) = chosen[index] {
                // Sector-aligned most of the time, any byte sometimes.
                let cut = Int.random(in: 0 ... data.count, using: &random)
                prefix = Bool.random(using: &random) ? cut / 512 * 512 : cut
            }
            Self.apply(chosen[index], to: &bytes, prefix: prefix)
        }
        return bytes
    }

    static func apply(_ operation: Operation, to bytes: inout [UInt8], prefix: Int?) {
        switch operation {
        case let .write(offset, data):
            let count = prefix ?? data.count
            if bytes.count < offset + count { bytes += [UInt8](repeating: 0, count: offset + count - bytes.count) }
            bytes.withUnsafeMutableBytes { target in
                data.withUnsafeBytes { source in
                    if count > 0 { (target.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: count) }
                }
            }
        case let .truncate(length):
            if length < bytes.count { bytes.removeSubrange(length...) } else { bytes += [UInt8](repeating: 0, count: length - bytes.count) }
        }
    }
}
