import CowDB
import Foundation
import XCTest
// Re-exported so every file of this test target sees the shared helpers.
@_exported import CowDBTestSupport
@_exported import CowDBTestHarness

/// The fixtures directory: a copy, in this test target, of `../shared/fixtures/lmdb-dumps`
/// (real `mdb_dump` output from LMDB 0.9.24 and 0.9.32), so a clone alone runs the tests.
let fixturesDirectory: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures")

/// A fixture file's path.
func fixture(_ name: String) -> String { fixturesDirectory.appendingPathComponent(name).path }

/// Bytes of a string.
func b(_ string: String) -> [UInt8] { Array(string.utf8) }

// MARK: Dump text, written independently of the tool

/// One keyspace's records for a test dump.
struct DumpBlock {
    /// nil: the default keyspace.
    var name: String?
    /// Records in key order.
    var records: [(key: [UInt8], value: [UInt8])]
}

/// Builds `mdb_dump` text independently of the tool's encoder (the tests' reference).
enum DumpText {
    /// Header lines that describe the LMDB environment rather than the data.
    static let environmentPrefixes = ["mapsize=", "maxreaders=", "db_pagesize=", "mapaddr="]

    /// `text` without the environment header lines.
    static func withoutEnvironment(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { line in !environmentPrefixes.contains { line.hasPrefix($0) } }
            .joined(separator: "\n")
    }

    /// A dump of `blocks` in bytevalue or print format, with an optional `mapsize=` line.
    static func make(_ blocks: [DumpBlock], print: Bool = false, mapSize: Int? = nil) -> String {
        var out = ""
        for block in blocks {
            out += "VERSION=3\nformat=\(print ? "print" : "bytevalue")\n"
            if let name = block.name { out += "database=\(name)\n" }
            out += "type=btree\n"
            if let mapSize { out += "mapsize=\(mapSize)\n" }
            out += "HEADER=END\n"
            var lines: [String] = []
            for record in block.records {
                lines.append(" " + encode(record.key, print: print))
                lines.append(" " + encode(record.value, print: print))
            }
            if !lines.isEmpty { out += lines.joined(separator: "\n") + "\n" }
            out += "DATA=END\n"
        }
        return out
    }

    /// One record line's text (without the leading space).
    static func encode(_ bytes: [UInt8], print: Bool) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            if print, byte == 0x5C {
                out += [0x5C, 0x5C]
            } else if print, byte >= 0x20, byte <= 0x7E {
                out.append(byte)
            } else {
                if print { out.append(0x5C) }
                out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The records of every block of a bytevalue dump: (database, key, value) in order.
    static func records(ofBytevalue text: String) -> [(database: String?, key: [UInt8], value: [UInt8])] {
        var result: [(String?, [UInt8], [UInt8])] = []
        var database: String?
        var inData = false
        var pendingKey: [UInt8]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !inData {
                if line.hasPrefix("database=") { database = String(line.dropFirst(9)) }
                if line == "HEADER=END" { inData = true }
                continue
            }
            if line == "DATA=END" {
                inData = false
                database = nil
                continue
            }
            let bytes = hexBytes(String(line.dropFirst()))
            if let key = pendingKey {
                result.append((database, key, bytes))
                pendingKey = nil
            } else {
                pendingKey = bytes
            }
        }
        return result
    }

    /// Bytes of lowercase hex.
    static func hexBytes(_ hex: String) -> [UInt8] {
        /// The value of a lowercase hex digit.
        func value(_ digit: UInt8) -> UInt8 { digit <= 57 ? digit - 48 : digit - 87 }
        let digits = Array(hex.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i + 1 < digits.count {
            out.append(value(digits[i]) << 4 | value(digits[i + 1]))
            i += 2
        }
        return out
    }
}

// MARK: Random data

/// Random records: binary keys of 1–100 bytes (a few of LMDB's 511-byte maximum), values mostly
/// 1–300 bytes, 10% empty, 5% large (3–40 KB, overflow pages); sorted, distinct keys.
func randomRecords(_ count: Int, using rng: inout SeededGenerator, avoidingByte avoided: UInt8? = nil) -> [(key: [UInt8], value: [UInt8])] {
    /// `n` random bytes, without the avoided byte.
    func bytes(_ n: Int) -> [UInt8] {
        var out = rng.bytes(n)
        if let avoided { out = out.map { $0 == avoided ? avoided &+ 1 : $0 } }
        return out
    }
    var map: [[UInt8]: [UInt8]] = [:]
    while map.count < count {
        let keyLength = Int.random(in: 0 ..< 50, using: &rng) == 0 ? 511 : Int.random(in: 1 ... 100, using: &rng)
        let kind = Int.random(in: 0 ..< 100, using: &rng)
        let valueLength = kind < 10 ? 0 : kind < 15 ? Int.random(in: 3000 ... 40000, using: &rng) : Int.random(in: 1 ... 300, using: &rng)
        map[bytes(keyLength)] = bytes(valueLength)
    }
    return map.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (key: $0.key, value: $0.value) }
}
