// One fuzz case: a database directory packed into one byte string, and the operations the
// fuzzer runs on it. Shared by the libFuzzer target (Tools/cowdb-fuzz, which compiles this
// file against the engine built as a testable module) and by FuzzRegressionTests (which replays
// the committed seeds and findings), so a finding replays exactly as the fuzzer ran it.
//
// Input layout:
//
//   offset size field
//   0      1    flags         see FuzzCase.Flags
//   1      4    indexLength   bytes of the index file that follow (u32 LE, clamped)
//   5      n    index         the `index` file
//   …      …    with the `otherFiles` flag only, three more files, each a u32 LE length
//               (0: the file is absent; clamped) then its bytes: `tags`, `CURRENT`, `lock`
//   …      …    data          the `data` file
//
// When CURRENT names a generation G from 2 to 999, the data and index files are written as
// `data.G` and `index.G` (so the engine finds them and checks the generation they repeat).
// The lock file is the real one a read-only open reads the writer's announcements from.
//
// Every page checksum guards the engine's structural code, so random mutations alone rarely
// get past it. With `resealData` the case recomputes every checksum (page runs, commit region
// checksums, the file header) after mutation, as a crafted file would carry them, so the
// parsers of branch, leaf, overflow and commit pages meet hostile bytes with valid checksums.

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Decodes a fuzz input, writes it as a database directory, and runs every reading operation
/// (and optionally a write) on it. Anything may throw; nothing may crash, hang or read out of
/// bounds — that is what the sanitizers and libFuzzer's timeout check.
enum FuzzCase {
    /// Bits of the flags byte.
    struct Flags: OptionSet {
        let rawValue: UInt8
        /// Recompute page, region and header checksums after mutation.
        static let resealData = Flags(rawValue: 1 << 0)
        /// Open read-only (otherwise as the writer, which may repair the tail).
        static let readOnly = Flags(rawValue: 1 << 1)
        /// `DatabaseOptions.verifyOnRead`.
        static let verifyOnRead = Flags(rawValue: 1 << 2)
        /// Recompute index record checksums after mutation.
        static let resealIndex = Flags(rawValue: 1 << 3)
        /// Leave the index file out (the engine rebuilds it from the commit chain).
        static let noIndex = Flags(rawValue: 1 << 4)
        /// Also run a write transaction on the opened database.
        static let write = Flags(rawValue: 1 << 5)
        /// Relink the commit chain (previous commit, first page) while resealing.
        static let relinkChain = Flags(rawValue: 1 << 6)
        /// The input also holds the tags, CURRENT and lock files.
        static let otherFiles = Flags(rawValue: 1 << 7)
    }

    /// The files of one case (nil: absent).
    struct Files {
        var flags: Flags
        var index: [UInt8]?
        var data: [UInt8]
        var tags: [UInt8]?
        var current: [UInt8]?
        var lock: [UInt8]?
    }

    /// The most entries any one scan takes, so a big valid tree cannot make a case slow.
    static let scanLimit = 2_000

    // MARK: Packing

    /// Packs a database directory's data and index files into one fuzz input.
    static func pack(flags: Flags, index: [UInt8], data: [UInt8]) -> [UInt8] {
        pack(Files(flags: flags.subtracting(.otherFiles), index: index, data: data))
    }

    /// Packs every file of a case (the tags, CURRENT and lock files when `otherFiles` is set).
    static func pack(_ files: Files) -> [UInt8] {
        var out: [UInt8] = [files.flags.rawValue]
        /// Appends a length-prefixed file (length 0: absent).
        func append(_ file: [UInt8]?) {
            withUnsafeBytes(of: UInt32(file?.count ?? 0).littleEndian) { out.append(contentsOf: $0) }
            out += file ?? []
        }
        append(files.index)
        if files.flags.contains(.otherFiles) { [files.tags, files.current, files.lock].forEach(append) }
        out += files.data
        return out
    }

    /// Splits an input into flags, index bytes (nil when left out) and data bytes.
    static func unpack(_ input: UnsafeRawBufferPointer) -> (flags: Flags, index: [UInt8]?, data: [UInt8]) {
        let files = unpackFiles(input)
        return (files.flags, files.index, files.data)
    }

    /// Splits an input into its files, resealed as its flags say.
    static func unpackFiles(_ input: UnsafeRawBufferPointer) -> Files {
        var offset = 0
        /// The next length-prefixed file (nil when its length is 0 or the input ended).
        func next() -> [UInt8]? {
            guard input.count - offset >= 4 else { offset = input.count; return nil }
            let declared = Int(input.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
            let length = min(declared, input.count - offset - 4)
            defer { offset += 4 + length }
            return length == 0 ? nil : Array(input[offset + 4 ..< offset + 4 + length])
        }
        let flags = Flags(rawValue: input.first ?? 0)
        offset = min(1, input.count)
        var files = Files(flags: flags, index: next() ?? [], data: [])
        if flags.contains(.otherFiles) { (files.tags, files.current, files.lock) = (next(), next(), next()) }
        files.data = Array(input[offset...])
        if flags.contains(.resealData) {
            resealData(&files.data, relink: flags.contains(.relinkChain))
            resealTagsAndCurrent(&files)
        }
        if flags.contains(.resealIndex) { resealIndex(&files.index!) }
        if flags.contains(.noIndex) { files.index = nil }
        return files
    }

    /// The generation a CURRENT file names, when it is one the case writes files for (2…999).
    static func generation(named current: [UInt8]?) -> UInt64? {
        guard let current, current.count >= 16 else { return nil }
        let generation = current.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian }
        return (2 ... 999).contains(generation) ? generation : nil
    }

    // MARK: Running

    /// Writes the files of a case as a database directory (replacing what was there).
    static func write(_ files: Files, to directory: String) {
        let manager = FileManager.default
        try? manager.removeItem(atPath: directory)
        try? manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let suffix = generation(named: files.current).map { ".\($0)" } ?? ""
        _ = manager.createFile(atPath: directory + "/data" + suffix, contents: Data(files.data))
        for (name, bytes) in [("index" + suffix, files.index), ("tags", files.tags), ("CURRENT", files.current), ("lock", files.lock)] {
            if let bytes { _ = manager.createFile(atPath: directory + "/" + name, contents: Data(bytes)) }
        }
    }

    /// Whether the data file's last 4 KiB are zeros (a reserve, or the zeros of a torn tail).
    static func endsInZeroPages(_ data: [UInt8]) -> Bool {
        data.count >= 3 * 4096 && data[(data.count - 4096)...].allSatisfy { $0 == 0 }
    }

    /// Writes the case into `directory` (replacing what was there) and runs it.
    static func run(_ input: UnsafeRawBufferPointer, in directory: String) {
        let files = unpackFiles(input)
        let flags = files.flags
        write(files, to: directory)
        var options = DatabaseOptions()
        options.readOnly = flags.contains(.readOnly)
        options.verifyOnRead = flags.contains(.verifyOnRead)
        // A durable writer keeps a reserve (zero pages past the last commit) and a non-durable one
        // cuts it off: a data file that ends in zero pages is opened durably, to keep it.
        options.durability = endsInZeroPages(files.data) ? .full : .none
        options.mapReservation = 1 << 20 // small, so growing past it exercises remapping
        options.dirtyPageBudget = 1 << 20
        guard let database = try? Database(path: directory, options: options) else { return } // unchecked-open: a fuzz input (the fuzzer shares this file; no XCTestCase)
        defer { try? database.close() }
        exercise(database)
        if flags.contains(.write), !flags.contains(.readOnly) {
            _ = try? database.write { transaction in
                try transaction.put([1, 2, 3], Array(repeating: 7, count: 100))
                try transaction.put(Array(repeating: 0xFF, count: 40), Array(repeating: 9, count: 9_000))
                _ = try transaction.delete([0])
                if let first = try transaction.scan().first(where: { _ in true }) {
                    _ = try transaction.delete(first.key)
                    try transaction.put(first.key + [0], first.value)
                }
                if let name = try transaction.keyspaces().first {
                    let keyspace = try transaction.keyspace(name)
                    try keyspace.put([5], [6])
                    if let first = try keyspace.scan().first(where: { _ in true }) { _ = try keyspace.delete(first.key) }
                }
                _ = try transaction.keyspaceCreatingIfMissing("fuzz")
            }
            exercise(database)
            // History operations on whatever the file holds.
            let versions = (try? database.versions().map(\.version)) ?? []
            if let first = versions.first {
                _ = try? database.rollback(to: first)
                try? database.tag("fuzz", version: first)
            }
            // Every other file packs the older version it keeps (docs/PACKED-HISTORY.md).
            _ = try? database.compact(keeping: RetentionPolicy(keepLast: 2), packing: versions.count % 2 == 0 ? .all : .none)
            exercise(database)
        }
    }

    /// Every reading operation: versions, reads at several versions, scans both ways, keyspaces,
    /// stats and check.
    static func exercise(_ database: Database) {
        let versions = (try? database.versions()) ?? []
        var picked = Set<UInt64>()
        if let first = versions.first { picked.insert(first.version) }
        if let last = versions.last { picked.insert(last.version) }
        if !versions.isEmpty { picked.insert(versions[versions.count / 2].version) }
        for version in picked.sorted() {
            _ = try? database.read(at: version) { transaction in
                readEverything(try transaction.defaultKeyspace)
                for name in (try? transaction.keyspaces()) ?? [] {
                    if let keyspace = try? transaction.keyspace(name) { readEverything(keyspace) }
                }
            }
            _ = try? database.stats(version: version)
        }
        if let last = versions.last {
            _ = try? database.read(asOf: Date(timeIntervalSince1970: Double(last.timestampNanoseconds) / 1e9)) { _ = try $0.count }
        }
        _ = try? database.read(at: UInt64.max) { _ = try $0.count }
        _ = try? database.tags()
        if let first = versions.first, let last = versions.last {
            _ = try? database.diffAllKeyspaces(from: first.version, to: last.version) { changes in
                var iterator = changes.makeIterator()
                var taken = 0
                while taken < scanLimit, (try? iterator.nextOrThrow()) != nil { taken += 1 }
            }
            _ = try? database.diff(from: last.version, to: 0) { changes -> Int in Array(changes.prefix(100)).count }
        }
        _ = try? database.checkReport(allVersions: true)
        _ = try? database.check()
    }

    /// Scans a keyspace forwards and backwards (bounded) and looks each seen key up again.
    static func readEverything(_ keyspace: Keyspace) {
        _ = try? keyspace.count()
        var seen: [[UInt8]] = []
        if let forward = try? keyspace.scan() {
            var iterator = forward.makeIterator()
            while seen.count < scanLimit, let entry = iterator.next() { seen.append(entry.key) }
        }
        if let backward = try? keyspace.scan(reverse: true) {
            var iterator = backward.makeIterator()
            var taken = 0
            while taken < 100, iterator.next() != nil { taken += 1 }
        }
        for key in seen.prefix(200) {
            _ = try? keyspace.get(key)
            _ = try? keyspace.withValue(for: key) { bytes in bytes.reduce(0) { $0 &+ $1 } }
        }
        for probe in [[UInt8](), [0], [0x80], Array(repeating: 0xFF, count: 64)] where !probe.isEmpty {
            _ = try? keyspace.get(probe)
        }
        var walked = 0
        _ = try? keyspace.withEntries(limit: scanLimit) { key, value in walked &+= key.count &+ value.count; return true }
        if let middle = seen.dropFirst(seen.count / 2).first {
            _ = try? keyspace.withEntries(from: middle, to: seen.last, limit: 50) { _, _ in true }
        }
        if let middle = seen.dropFirst(seen.count / 2).first, let ranged = try? keyspace.scan(from: middle, to: seen.last) {
            var iterator = ranged.makeIterator()
            var taken = 0
            while taken < 50, iterator.next() != nil { taken += 1 }
        }
    }
}
