// The file fuzzer's seed corpus: small real databases (every file a database directory can
// hold, several page sizes, a tree three levels deep or more), packed with a spread of flags.
// Tools/cowdb-fuzz writes them with COWDB_FUZZ_WRITE_SEEDS; the committed copies are in
// Tools/cowdb-fuzz/seeds.

import Foundation
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension FuzzCase {
    // MARK: Seeds

    /// Small real databases, packed with a spread of flags: the fuzzer's starting corpus.
    /// Built in `scratch` (a directory this function may fill and empty).
    static func makeSeeds(scratch: String) throws -> [(name: String, bytes: [UInt8])] {
        var seeds: [(name: String, bytes: [UInt8])] = []
        /// Builds a database with `body`, then packs its files with each of `variants`.
        func build(_ name: String, pageSize: Int = 4096, reserve: Int = 0, variants: [(String, Flags)], _ body: (Database) throws -> Void) throws {
            let directory = scratch + "/" + name
            try? FileManager.default.removeItem(atPath: directory)
            var options = DatabaseOptions()
            options.durability = .none
            options.pageSize = pageSize
            let database = try Database(path: directory, options: options) // unchecked-open: no XCTestCase here (the fuzzer shares this file); a clean seed, packed and deleted
            try body(database)
            try database.close()
            let current = try? readFile(directory + "/CURRENT")
            let generation = try current.map { try CurrentFile.decode($0, path: directory) } ?? 1
            var files = Files(flags: [], index: try readFile(directory + "/" + CurrentFile.indexName(generation)),
                              data: try readFile(directory + "/" + CurrentFile.dataName(generation)) + [UInt8](repeating: 0, count: reserve))
            (files.tags, files.current, files.lock) = (try? readFile(directory + "/tags"), current, try? readFile(directory + "/lock"))
            for (suffix, flags) in variants {
                files.flags = flags
                seeds.append((name + "-" + suffix, flags.contains(.otherFiles) ? pack(files) : pack(flags: flags, index: files.index!, data: files.data)))
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
                                     ("verify", [.resealData, .verifyOnRead, .readOnly])]) { try fillTree($0) }
        // What a durable writer that crashed leaves: its reserve, zero pages past the last commit.
        try build("reserve", reserve: 16 * 4096, variants: [("write", [.resealData, .write]), ("readonly", [.resealData, .readOnly])]) { database in
            for round in 0 ..< 4 {
                try database.write { transaction in
                    for i in 0 ..< 12 { try transaction.put(Array("r\(i)".utf8), Array(repeating: UInt8(round), count: 40 * i)) }
                }
            }
        }
        try makeMoreSeeds { try build($0, pageSize: $1, variants: $2, $3) }
        if let history = seeds.first(where: { $0.name == "history-files-readonly" }) {
            var files = history.bytes.withUnsafeBytes { unpackFiles($0) }
            files.lock = hostileLockPage()
            seeds.append(("lock-hostile", pack(files)))
        }
        return seeds
    }

    /// Four rounds over 400 keys, a 9 KB value and a keyspace created then dropped: the "tree" seed.
    private static func fillTree(_ database: Database) throws {
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

    /// The seeds for what the first corpus lacked: page sizes from 8 to 64 KiB, a tree three
    /// levels deep or more, and the tags, CURRENT and lock files (one lock page hostile).
    static func makeMoreSeeds(_ build: (String, Int, [(String, Flags)], (Database) throws -> Void) throws -> Void) throws {
        for pageSize in [8192, 16384, 32768, 65536] {
            try build("pages\(pageSize / 1024)k", pageSize, [("resealed", [.resealData, .write])]) { database in
                try database.write { transaction in
                    for i in 0 ..< 30 { try transaction.put(Array("key\(i)".utf8), Array(repeating: UInt8(i), count: i * 9)) }
                    if pageSize < 32768 { try transaction.put(Array("big".utf8), Array(repeating: 0xB1, count: pageSize / 2)) }
                }
            }
        }
        // Keys of the largest size that differ only at their end (so a branch's separators are
        // as long as the keys): a few entries a page, so 40 of them make three levels or more.
        try build("deep", 4096, [("resealed", [.resealData, .resealIndex]), ("write", [.resealData, .write])]) { database in
            try database.write { transaction in
                for i in 0 ..< 40 {
                    let key = Array(repeating: 0x2E, count: database.maxKeySize - 7) + Array(String(format: "deep%03d", i).utf8)
                    try transaction.put(key, [UInt8(i)])
                }
            }
        }
        try build("history", 4096, [("files", [.otherFiles, .resealData]), ("files-readonly", [.otherFiles, .resealData, .readOnly]),
                                    ("files-write", [.otherFiles, .resealData, .write])]) { database in
            for round in 0 ..< 3 {
                try database.write { transaction in
                    for i in 0 ..< 10 { try transaction.put(Array("h\(i)".utf8), Array("round \(round)".utf8)) }
                }
                try database.tag("round\(round)", version: database.latestVersion)
            }
            _ = try database.compact(keeping: RetentionPolicy(keepLast: 1))
            try database.write { try $0.put(Array("after".utf8), Array("compaction".utf8)) }
        }
        try build("packed", 4096, [("files", [.otherFiles, .resealData]), ("files-write", [.otherFiles, .resealData, .write]),
                                   ("files-verify", [.otherFiles, .resealData, .resealIndex, .verifyOnRead, .readOnly]),
                                   ("files-noindex", [.otherFiles, .resealData, .noIndex, .write])]) { try fillPacked($0) }
    }

    /// A packed database (docs/PACKED-HISTORY.md): twelve commits over two keyspaces (an
    /// overflow value, deletes, a keyspace dropped), packed but the latest, then two commits
    /// after the pack and a repack packing all but the newest one.
    static func fillPacked(_ database: Database) throws {
        for round in 0 ..< 12 {
            try database.write { transaction in
                for i in stride(from: round % 3, to: 60, by: 3) {
                    try transaction.put(Array("p\(i)".utf8), Array(repeating: UInt8(truncatingIfNeeded: i &* 7 &+ round), count: 8 + i % 20))
                }
                if round == 2 { try transaction.put(Array("big".utf8), Array(repeating: 0xC3, count: 6_000)) }
                if round % 4 == 3 { _ = try transaction.delete(Array("p\(round)".utf8)) }
                if round == 4 { try transaction.keyspaceCreatingIfMissing("side").put([1], [UInt8(round)]) }
                if round == 9 { try transaction.dropKeyspace("side") }
            }
        }
        try database.compact(keeping: RetentionPolicy(keepAll: true), packing: .all)
        for round in 0 ..< 2 { try database.write { try $0.put(Array("after\(round)".utf8), [UInt8(round)]) } }
        try database.compact(keeping: RetentionPolicy(keepAll: true), packing: .allButNewest(1))
        try database.write { try $0.put(Array("last".utf8), [9]) }
    }

    /// The lock page a crashed or hostile writer could leave: the magic, an even sequence, and
    /// a version, commit page, generation and index count far beyond the files.
    static func hostileLockPage() -> [UInt8] {
        var page = [UInt8](repeating: 0, count: 4096)
        page.withUnsafeMutableBytes { raw in
            for (offset, value) in [(0, LockFile.magic), (8, 2), (16, 1 << 40), (24, 1 << 50), (32, 7), (40, UInt64.max)] {
                raw.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
            }
        }
        return page
    }

    /// A whole file's bytes (`FileHandle`; Foundation's `Data(contentsOf:)` leaks on empty files).
    static func readFile(_ path: String) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        return [UInt8](try handle.readToEnd() ?? Data())
    }

}
