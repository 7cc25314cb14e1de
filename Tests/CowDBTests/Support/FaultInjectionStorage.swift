import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
#if canImport(Glibc)
import Glibc
#endif

// A storage backend that keeps its files in memory and models a disk behind a page cache,
// for crash and I/O-error tests.
//
// Every file (an inode) has two states:
//  - `volatile`: what the process sees (the page cache). It lives in an anonymous mapping
//    reserved once per inode, so a `MappedRegion` over it shows every write at once and
//    stays valid however far the file grows (as a `MAP_SHARED` file map does).
//  - `durable`: what survives a power cut. `sync()` makes the file's volatile state durable;
//    until then its writes and truncations are kept in a list of unsynced operations.
// Names work the same way: a volatile and a durable name table (and set of directories);
// creating, renaming or unlinking a name is durable only after `syncDirectory` of its
// directory. Directories form a tree: an entry is on the disk after a power cut only if its
// directory is, so a directory created (its entry volatile until its parent is synced) takes
// everything below it with it. The roots "/" and "." always exist.
//
// Faults (thread-safe; counted over all files):
//  - fail the Nth write or the Nth sync with an errno (EIO, ENOSPC, …), once or until cleared;
//  - a failed sync may also drop the file's dirty pages (what Linux may do after a
//    writeback error), or mark them clean without writing them;
//  - crash after the Nth step (a step is a write, a sync, a directory sync, a truncation or
//    a rename): the step completes, then every later operation throws (the process is dead);
//  - `restartedAfterProcessCrash()` gives the machine a restarted process finds (page cache
//    and disk as they were);
//  - `image(_:)` produces the disk after the crash: the page cache (a process crash),
//    the durable bytes only, or a power cut: durable bytes plus a random subset of the
//    writes issued since each file's last sync, applied in random order, one of them
//    possibly torn (only a prefix reached the disk), and for each directory either its
//    synced entries or its current ones (a directory is one metadata block);
//  - flip bits in a stored image or in the live files.
// A fresh backend built from an image is what "reopen after a crash" uses.

/// The files and directories on a (simulated) disk.
struct DiskImage: Sendable {
    var files: [String: [UInt8]] = [:]
    var directories: Set<String> = []

    /// Flips bit `bit` (0–7) of byte `offset` of the file at `path`.
    mutating func flipBit(_ path: String, offset: Int, bit: Int) {
        precondition(files[path] != nil && offset < files[path]!.count, "no byte \(offset) in \(path)")
        files[path]![offset] ^= UInt8(1 << bit)
    }
}

/// An in-memory StorageBackend with a modelled page cache, fault injection and crash images.
final class FaultInjectionStorage: StorageBackend, @unchecked Sendable {
    /// What a crash leaves on the disk.
    enum ImageKind: Sendable {
        /// Only the process died: the page cache (every write) survives, with the volatile names.
        case processCrash
        /// Power cut, nothing unsynced reached the disk: durable bytes and durable names only.
        case durableOnly
        /// Power cut: durable bytes plus, per file, a random subset of the writes (and
        /// truncations) since its last sync, in random order; when `tear` is set, one of the
        /// writes applied may keep only a random prefix. Sometimes the file's new length is
        /// there without the data (zeros). Each directory shows (at random) its durable or its
        /// volatile entries; what hangs from a directory missing from the image is missing too.
        case powerCut(seed: UInt64, tear: Bool)
    }

    /// What a failed sync does to the dirty pages of that file.
    enum SyncFailure: Sendable {
        /// The error is reported; the dirty pages stay dirty (a later sync may still write them).
        case keepDirty
        /// The kernel dropped the dirty pages: the cache reverts to what is on disk.
        case dropPages
        /// The kernel marked the pages clean without writing them (Linux after a writeback
        /// error): the process still reads the new bytes, but they will never reach the disk
        /// unless written again.
        case markClean
    }

    /// Address space reserved per file: the largest file this backend holds.
    static let arenaSize = 1 << 30

    /// Directories that always exist (a path's walk up ends at one of them).
    static let roots: Set<String> = ["/", "."]

    private let lock = NSLock()
    var volatileNames: [String: Inode] = [:]
    var durableNames: [String: Inode] = [:]
    var volatileDirectories: Set<String> = FaultInjectionStorage.roots
    var durableDirectories: Set<String> = FaultInjectionStorage.roots

    // Counters (over all files) and faults. The state is internal, not private, for the file
    // operations in FaultInjectionStorage+Files.swift; nothing outside the backend touches it.
    var writes = 0
    var syncs = 0
    var steps = 0
    var crashAfterStep: Int?
    var crashed = false
    var writeFault: (number: Int, errno: Int32, persistent: Bool)?
    var syncFault: (number: Int, errno: Int32, persistent: Bool, failure: SyncFailure)?
    /// The errno the next `ftruncate` fails with (once).
    var truncateFault: Int32?
    var droppedPages = 0

    /// An empty disk (only the roots "/" and "." exist).
    init() {}

    /// A disk on which `directories` and all their ancestors exist, durably (as a directory
    /// made long ago does), and nothing else.
    convenience init(durableDirectories directories: [String]) {
        var image = DiskImage()
        for directory in directories {
            var level = directory
            while !Self.roots.contains(level) {
                image.directories.insert(level)
                level = Self.parent(of: level)
            }
        }
        self.init(image: image)
    }

    /// A disk holding `image` (durable and volatile alike: the state after a reboot).
    init(image: DiskImage) {
        for (path, bytes) in image.files {
            let inode = Inode(bytes)
            volatileNames[path] = inode
            durableNames[path] = inode
        }
        volatileDirectories = image.directories.union(Self.roots)
        durableDirectories = image.directories.union(Self.roots)
    }

    /// The machine after a process crash and restart: the same disk and page cache (unsynced
    /// writes still unsynced, names not yet synced still volatile), no faults, counters at zero.
    /// The crashed backend is left as it is, so one crash can be restarted many times.
    func restartedAfterProcessCrash() -> FaultInjectionStorage {
        locked {
            let copy = FaultInjectionStorage()
            var copies: [ObjectIdentifier: Inode] = [:]
            func clone(_ inode: Inode) -> Inode {
                if let done = copies[ObjectIdentifier(inode)] { return done }
                let twin = Inode(Array(UnsafeRawBufferPointer(start: inode.base, count: inode.length)))
                twin.durable = inode.durable
                twin.unsynced = inode.unsynced
                copies[ObjectIdentifier(inode)] = twin
                return twin
            }
            copy.volatileNames = volatileNames.mapValues(clone)
            copy.durableNames = durableNames.mapValues(clone)
            copy.volatileDirectories = volatileDirectories
            copy.durableDirectories = durableDirectories
            return copy
        }
    }

    // MARK: Fault controls

    /// Writes, syncs (file and directory) and steps so far.
    var counts: (writes: Int, syncs: Int, steps: Int) { locked { (writes, syncs, steps) } }

    /// How many failed file syncs have dropped dirty pages (`SyncFailure.dropPages`): writes
    /// never synced are gone from the cache too, as after a power cut.
    var pageDropCount: Int { locked { droppedPages } }

    /// Whether the simulated process has crashed.
    var isCrashed: Bool { locked { crashed } }

    /// The global operation clock, read at once: the steps so far (every thread's writes,
    /// syncs, truncations and renames, in the order they happened) and whether the process
    /// has crashed. A thread that reads it right after its `write` returns learns whether
    /// the call returned before the crashing step or after it.
    var clock: (step: Int, crashed: Bool) { locked { (steps, crashed) } }

    /// Fails write number `number` (1-based, counted over all files; see `counts`) with
    /// `errno`; when `persistent`, every later write fails too until `clearFaults()`.
    func failWrite(number: Int, errno: Int32, persistent: Bool = false) {
        locked { writeFault = (number, errno, persistent) }
    }

    /// Fails the next write (and, when `persistent`, every later one until `clearFaults()`).
    func failNextWrite(errno: Int32, persistent: Bool = false) {
        locked { writeFault = (writes + 1, errno, persistent) }
    }

    /// Fails sync number `number` (file syncs and directory syncs, 1-based) with `errno`.
    func failSync(number: Int, errno: Int32, persistent: Bool = false, failure: SyncFailure = .keepDirty) {
        locked { syncFault = (number, errno, persistent, failure) }
    }

    /// Fails the next sync.
    func failNextSync(errno: Int32, persistent: Bool = false, failure: SyncFailure = .keepDirty) {
        locked { syncFault = (syncs + 1, errno, persistent, failure) }
    }

    /// Fails the next truncation (once) with `errno`, leaving the file as it was.
    func failNextTruncate(errno: Int32) {
        locked { truncateFault = errno }
    }

    /// Crashes the simulated process right after step `step` (1-based) completes.
    func crash(afterStep step: Int) {
        locked {
            crashAfterStep = step
            if steps >= step { crashed = true }
        }
    }

    /// Removes the write and sync faults (a crash stays a crash).
    func clearFaults() {
        locked {
            writeFault = nil
            syncFault = nil
            truncateFault = nil
        }
    }

    /// Flips a bit of a live file (both the cache and the disk: damage on the medium that a
    /// later read sees).
    func flipBit(_ path: String, offset: Int, bit: Int) {
        locked {
            let inode = volatileNames[path]!
            precondition(offset < inode.length)
            (inode.base + offset).storeBytes(of: inode.base.load(fromByteOffset: offset, as: UInt8.self) ^ UInt8(1 << bit), as: UInt8.self)
            if offset < inode.durable.count { inode.durable[offset] ^= UInt8(1 << bit) }
        }
    }

    /// The bytes the process currently sees in `path` (nil when there is no such file).
    func contents(_ path: String) -> [UInt8]? {
        locked { volatileNames[path].map { Array(UnsafeRawBufferPointer(start: $0.base, count: $0.length)) } }
    }

    /// The disk as a crash of `kind` leaves it.
    func image(_ kind: ImageKind) -> DiskImage {
        locked {
            switch kind {
            case .processCrash:
                return tree(volatileIn: { _ in true }) { _, inode in
                    Array(UnsafeRawBufferPointer(start: inode.base, count: inode.length))
                }
            case .durableOnly:
                return tree(volatileIn: { _ in false }) { _, inode in inode.durable }
            case let .powerCut(seed, tear):
                var random = SeededGenerator(seed: seed)
                // Stable orders, so a seed always gives the same image.
                var reached: Set<String> = []
                for directory in volatileDirectories.union(durableDirectories).sorted() where Bool.random(using: &random) {
                    reached.insert(directory)
                }
                var bytes: [String: [UInt8]] = [:]
                return tree(volatileIn: { reached.contains($0) }) { path, inode in
                    if let done = bytes[path] { return done }
                    let result = inode.powerCutBytes(using: &random, tear: tear)
                    bytes[path] = result
                    return result
                }
            }
        }
    }

    /// The directories and files reachable from the roots when each directory shows its
    /// volatile entries (`volatileIn` says true) or its durable ones, the files' bytes given
    /// by `bytes`. Under the lock.
    private func tree(volatileIn: (String) -> Bool, bytes: (String, Inode) -> [UInt8]) -> DiskImage {
        var result = DiskImage()
        var memo: [String: Bool] = [:]
        func present(_ path: String) -> Bool {
            if Self.roots.contains(path) { return true }
            if let known = memo[path] { return known }
            let parent = Self.parent(of: path)
            let listed = (volatileIn(parent) ? volatileDirectories : durableDirectories).contains(path)
            let answer = listed && present(parent)
            memo[path] = answer
            return answer
        }
        result.directories = volatileDirectories.union(durableDirectories).filter(present)
        for path in Set(volatileNames.keys).union(durableNames.keys).sorted() {
            let parent = Self.parent(of: path)
            guard present(parent), let inode = volatileIn(parent) ? volatileNames[path] : durableNames[path] else { continue }
            result.files[path] = bytes(path, inode)
        }
        return result
    }

    // MARK: StorageBackend

    func open(_ path: String, create: Bool, readOnly: Bool) throws -> any StorageFile {
        try locked {
            try checkAlive("open", path)
            if let inode = volatileNames[path] { return FaultFile(backend: self, inode: inode, path: path, readOnly: readOnly) }
            guard create else { throw CowDBError.io(operation: "open", path: path, errno: ENOENT) }
            guard volatileDirectories.contains(Self.parent(of: path)) else {
                throw CowDBError.io(operation: "open", path: path, errno: ENOENT)
            }
            let inode = Inode([])
            volatileNames[path] = inode
            return FaultFile(backend: self, inode: inode, path: path, readOnly: readOnly)
        }
    }

    func exists(_ path: String) -> Bool {
        locked { !crashed && (volatileNames[path] != nil || volatileDirectories.contains(path)) }
    }

    func makeDirectory(_ path: String) throws {
        try locked {
            try checkAlive("mkdir", path)
            var prefix = path.hasPrefix("/") ? "/" : ""
            for component in path.split(separator: "/") {
                prefix += component
                volatileDirectories.insert(prefix)
                prefix += "/"
            }
        }
    }

    func rename(_ from: String, _ to: String) throws {
        try locked {
            try step("rename", from)
            guard let inode = volatileNames[from] else { throw CowDBError.io(operation: "rename", path: from, errno: ENOENT) }
            volatileNames[from] = nil
            volatileNames[to] = inode
            afterStep()
        }
    }

    func unlink(_ path: String) throws {
        try locked {
            try checkAlive("unlink", path)
            volatileNames[path] = nil
        }
    }

    func syncDirectory(_ path: String) throws {
        try locked {
            try checkAlive("open directory", path)
            guard volatileDirectories.contains(path) else { throw CowDBError.io(operation: "open directory", path: path, errno: ENOENT) }
            try step("fsync directory", path)
            syncs += 1
            if let fault = syncFault, syncs == fault.number || (fault.persistent && syncs > fault.number) {
                throw CowDBError.io(operation: "fsync directory", path: path, errno: fault.errno)
            }
            // The entries of this directory become what the volatile table says.
            for name in Set(volatileNames.keys).union(durableNames.keys) where Self.parent(of: name) == path {
                durableNames[name] = volatileNames[name]
            }
            for directory in volatileDirectories.union(durableDirectories) where Self.parent(of: directory) == path {
                if volatileDirectories.contains(directory) { durableDirectories.insert(directory) } else { durableDirectories.remove(directory) }
            }
            afterStep()
        }
    }

    // MARK: Helpers

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    func checkAlive(_ operation: String, _ path: String) throws {
        if crashed { throw CowDBError.io(operation: operation + " (crashed)", path: path, errno: EIO) }
    }

    func checkOpen(_ file: FaultFile, _ operation: String) throws {
        try checkAlive(operation, file.path)
        if file.closed { throw CowDBError.io(operation: operation, path: file.path, errno: EBADF) }
    }

    /// Counts a step; throws if the process is dead.
    func step(_ operation: String, _ path: String) throws {
        try checkAlive(operation, path)
        steps += 1
    }

    /// After a step completed: crash here if asked to.
    func afterStep() {
        if let crashAfterStep, steps >= crashAfterStep { crashed = true }
    }

    func closeFile(_ file: FaultFile) { locked { file.closed = true } }

    /// The directory holding `path` ("." for a bare name; a root is its own parent).
    static func parent(of path: String) -> String { parentDirectory(of: path) }
}
