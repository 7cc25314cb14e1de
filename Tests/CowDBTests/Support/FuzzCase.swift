// One fuzz case: a database directory packed into one byte string, and the operations the
// fuzzer runs on it. Shared by the libFuzzer target (Tools/cowdb-fuzz, which compiles this
// file into one module with the engine's sources) and by FuzzRegressionTests (which replays
// the committed seeds and findings), so a finding replays exactly as the fuzzer ran it.
//
// Input layout:
//
//   offset size field
//   0      1    flags         see FuzzCase.Flags
//   1      4    indexLength   bytes of the index file that follow (u32 LE, clamped)
//   5      n    index         the `index` file
//   5+n    …    data          the `data` file
//
// Every page checksum guards the engine's structural code, so random mutations alone rarely
// get past it. With `resealData` the case recomputes every checksum (page runs, commit region
// checksums, the file header) after mutation, as a crafted file would carry them, so the
// parsers of branch, leaf, overflow and commit pages meet hostile bytes with valid checksums.

import Foundation
#if !COWDB_FUZZ
@testable import CowDB
#endif

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
    }

    /// The most entries any one scan takes, so a big valid tree cannot make a case slow.
    static let scanLimit = 2_000

    // MARK: Packing

    /// Packs a database directory's files into one fuzz input.
    static func pack(flags: Flags, index: [UInt8], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [flags.rawValue]
        withUnsafeBytes(of: UInt32(index.count).littleEndian) { out.append(contentsOf: $0) }
        out += index
        out += data
        return out
    }

    /// Splits an input into flags, index bytes (nil when left out) and data bytes.
    static func unpack(_ input: UnsafeRawBufferPointer) -> (flags: Flags, index: [UInt8]?, data: [UInt8]) {
        guard input.count >= 5 else { return (Flags(rawValue: input.first ?? 0), nil, []) }
        let flags = Flags(rawValue: input[0])
        let declared = Int(input.loadUnaligned(fromByteOffset: 1, as: UInt32.self).littleEndian)
        let indexLength = min(declared, input.count - 5)
        var index = Array(input[5 ..< 5 + indexLength])
        var data = Array(input[(5 + indexLength)...])
        if flags.contains(.resealData) { resealData(&data, relink: flags.contains(.relinkChain)) }
        if flags.contains(.resealIndex) { resealIndex(&index) }
        return (flags, flags.contains(.noIndex) ? nil : index, data)
    }

    // MARK: Seeds

    /// Small real databases, packed with a spread of flags: the fuzzer's starting corpus.
    /// Built in `scratch` (a directory this function may fill and empty).
    static func makeSeeds(scratch: String) throws -> [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        var options = DatabaseOptions()
        options.durability = .none
        /// Builds a database with `body`, then packs its files with each of `variants`.
        func build(_ name: String, variants: [(String, Flags)], _ body: (Database) throws -> Void) throws {
            let directory = scratch + "/" + name
            try? FileManager.default.removeItem(atPath: directory)
            let database = try Database(path: directory, options: options) // unchecked-open: no XCTestCase here (the fuzzer shares this file); a clean seed, packed into fuzz inputs and deleted
            try body(database)
            try database.close()
            let data = try readFile(directory + "/data")
            let index = try readFile(directory + "/index")
            for (suffix, flags) in variants {
                seeds.append((name + "-" + suffix, pack(flags: flags, index: index, data: data)))
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
        try build("empty", variants: [("plain", []), ("write", [.write, .resealData])]) { _ in }
        try build("small", variants: [("plain", []), ("resealed", [.resealData]), ("readonly", [.resealData, .readOnly]),
                                      ("verify", [.resealData, .verifyOnRead]), ("noindex", [.resealData, .noIndex, .write])]) { database in
            for round in 0 ..< 3 {
                try database.write { transaction in
                    for i in 0 ..< 20 { try transaction.put(Array("key\(i)".utf8), Array("value \(i) round \(round)".utf8)) }
                    if round == 1 { try transaction.keyspaceCreatingIfMissing("names").put([1], [2]) }
                    if round == 2 { _ = try transaction.delete(Array("key3".utf8)) }
                }
            }
        }
        try build("tree", variants: [("resealed", [.resealData, .resealIndex]), ("relinked", [.resealData, .relinkChain, .write]),
                                     ("verify", [.resealData, .verifyOnRead, .readOnly])]) { database in
            for round in 0 ..< 4 {
                try database.write { transaction in
                    for i in stride(from: round, to: 400, by: 2) {
                        try transaction.put(Array(String(format: "k%05d", i).utf8), Array(repeating: UInt8(truncatingIfNeeded: i &+ round), count: 40))
                    }
                    if round == 1 {
                        try transaction.put(Array("big".utf8), Array(repeating: 0xAB, count: 9_000))
                        let names = try transaction.keyspaceCreatingIfMissing("names")
                        for i in 0 ..< 30 { try names.put(Array("n\(i)".utf8), [UInt8(i)]) }
                    }
                    if round == 3 {
                        for i in stride(from: 0, to: 400, by: 3) { _ = try transaction.delete(Array(String(format: "k%05d", i).utf8)) }
                        try transaction.dropKeyspace("names")
                    }
                }
            }
        }
        return seeds
    }

    /// A whole file's bytes (`FileHandle`; Foundation's `Data(contentsOf:)` leaks on empty files).
    static func readFile(_ path: String) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        return [UInt8](try handle.readToEnd() ?? Data())
    }

    // MARK: Resealing

    /// Recomputes the checksums of the data file the way the engine writes them.
    static func resealData(_ data: inout [UInt8], relink: Bool) {
        guard data.count >= FileHeader.encodedSize else { return }
        data.withUnsafeMutableBytes { file in
            file.setU32(crc32c(UnsafeRawBufferPointer(rebasing: file[0 ..< 60])), 60)
            let declared = Int(UnsafeRawBufferPointer(file).u32(12))
            let pageSize = PageLayout.isValidPageSize(declared) ? declared : 4096
            let pages = UInt64(file.count / pageSize)
            var page: UInt64 = 1
            var fold: UInt32 = 0
            var previousCommit: UInt64 = 0
            var regionStart: UInt64 = 1
            while page < pages {
                let start = Int(page) * pageSize
                let declaredRun = UInt64(UnsafeRawBufferPointer(file).u32(start + PageHeader.runLengthOffset))
                let runLength = (1 ... pages - page).contains(declaredRun) ? declaredRun : 1
                let run = UnsafeMutableRawBufferPointer(rebasing: file[start ..< start + Int(runLength) * pageSize])
                let isCommit = run[PageHeader.kindOffset] == PageKind.commit.rawValue
                if isCommit {
                    if relink {
                        run.setU64(previousCommit, 32)
                        run.setU64(regionStart, 40)
                    }
                    run.setU32(fold, 80)
                }
                let checksum = PageHeader.seal(run, pageNumber: page)
                if isCommit {
                    fold = 0
                    previousCommit = page
                    regionStart = page + 1
                } else {
                    var stored = checksum.littleEndian
                    fold = withUnsafeBytes(of: &stored) { crc32c($0, seed: fold) }
                }
                page += runLength
            }
        }
    }

    /// Recomputes the checksum of every whole index record.
    static func resealIndex(_ index: inout [UInt8]) {
        index.withUnsafeMutableBytes { file in
            var offset = 0
            while offset + IndexRecord.size <= file.count {
                let record = UnsafeMutableRawBufferPointer(rebasing: file[offset ..< offset + IndexRecord.size])
                record.setU32(crc32c(UnsafeRawBufferPointer(rebasing: record[0 ..< 60])), 60)
                offset += IndexRecord.size
            }
        }
    }

    // MARK: Running

    /// Writes the case into `directory` (replacing what was there) and runs it.
    static func run(_ input: UnsafeRawBufferPointer, in directory: String) {
        let (flags, index, data) = unpack(input)
        let manager = FileManager.default
        try? manager.removeItem(atPath: directory)
        try? manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = manager.createFile(atPath: directory + "/data", contents: Data(data))
        if let index { _ = manager.createFile(atPath: directory + "/index", contents: Data(index)) }
        var options = DatabaseOptions()
        options.readOnly = flags.contains(.readOnly)
        options.verifyOnRead = flags.contains(.verifyOnRead)
        options.durability = .none
        options.mapReservation = 1 << 20 // small, so growing past it exercises remapping
        options.dirtyPageBudget = 1 << 20
        guard let database = try? Database(path: directory, options: options) else { return } // unchecked-open: a fuzzed, hostile file
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
            _ = try? database.compact(keeping: RetentionPolicy(keepLast: 2))
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
                readEverything(transaction.defaultKeyspace)
                for name in (try? transaction.keyspaces()) ?? [] {
                    if let keyspace = try? transaction.keyspace(name) { readEverything(keyspace) }
                }
            }
            _ = try? database.stats(version: version)
        }
        if let last = versions.last {
            _ = try? database.read(asOf: Date(timeIntervalSince1970: Double(last.timestampNanoseconds) / 1e9)) { _ = $0.count }
        }
        _ = try? database.read(at: UInt64.max) { _ = $0.count }
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
