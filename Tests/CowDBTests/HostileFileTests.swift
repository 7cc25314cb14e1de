import Foundation
import XCTest
@testable import CowDB

/// Damaged and crafted files: every operation either works or throws a typed error — never
/// a crash, a hang or a read outside the file. (The libFuzzer target of the reliability work
/// goes further; this is the in-suite version, seeded and reproducible.)
final class HostileFileTests: XCTestCase {
    /// Runs everything a user might run on a database; errors are fine, crashes are not.
    private func exercise(_ path: String, keys: [[UInt8]]) -> (opened: Bool, errors: Int) {
        var errors = 0
        var options = DatabaseOptions()
        options.lockTimeout = 0
        guard let db = try? Database(path: path, options: options) else { return (false, 1) } // unchecked-open: a damaged copy
        do { _ = try db.read { txn in Array(try txn.scan()).count } } catch { errors += 1 }
        do { _ = try db.read { txn in Array(try txn.scan(reverse: true)).count } } catch { errors += 1 }
        do { try db.read { txn in try txn.withEntries { key, value in key.count + value.count >= 0 } } } catch { errors += 1 }
        for key in keys.prefix(10) {
            do { try db.read { txn in try txn.withEntries(from: key, limit: 10) { _, _ in true } } } catch { errors += 1 }
        }
        for key in keys.prefix(50) {
            do { _ = try db.read { try $0.get(key) } } catch { errors += 1 }
        }
        do {
            for info in try db.versions() {
                do { _ = try db.read(at: info.version) { txn in (try txn.keyspaces(), Array(try txn.scan().prefix(100)).count) } } catch { errors += 1 }
            }
        } catch { errors += 1 }
        do {
            try db.read { txn in
                for name in try txn.keyspaces() { _ = Array(try txn.keyspace(name).scan()).count }
            }
        } catch { errors += 1 }
        do {
            let latest = db.latestVersion
            _ = try db.diffAllKeyspaces(from: 0, to: latest) { Array($0).count }
            _ = try db.diffAllKeyspaces(from: latest, to: latest / 2) { Array($0).count }
        } catch { errors += 1 }
        if let report = try? db.checkReport(allVersions: true) { errors += report.problems.count } else { errors += 1 }
        _ = try? db.stats()
        do { try db.write { try $0.put(b("after"), b("damage")) } } catch { errors += 1 }
        try? db.close()
        return (true, errors)
    }

    func testRandomByteDamageNeverCrashes() throws {
        let seed = testSeed("hostile")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let original = directory.path("original")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: original, options: options)
        var keys: [[UInt8]] = []
        for commit in 0 ..< 30 {
            try db.write { txn in
                let ks = try txn.keyspaceCreatingIfMissing("ks\(commit % 3)")
                for _ in 0 ..< 60 {
                    let key = random.bytes(Int.random(in: 1 ... 30, using: &random))
                    keys.append(key)
                    let value = random.bytes(Int.random(in: 0 ..< 12, using: &random) == 0 ? 6_000 : 40)
                    try (Bool.random(using: &random) ? txn.defaultKeyspace : ks).put(key, value)
                }
            }
        }
        try db.close()
        let data = try Data(contentsOf: URL(fileURLWithPath: original + "/data"))
        let index = try Data(contentsOf: URL(fileURLWithPath: original + "/index"))
        var opened = 0, detected = 0
        for round in 0 ..< 150 {
            let damaged = directory.path("damaged-\(round)")
            try FileManager.default.createDirectory(atPath: damaged, withIntermediateDirectories: true)
            var bytes = Array(data)
            var indexBytes = Array(index)
            let mode = round % 5
            for _ in 0 ..< Int.random(in: 1 ... 6, using: &random) {
                switch mode {
                case 0: // a random byte anywhere
                    bytes[Int.random(in: 0 ..< bytes.count, using: &random)] = UInt8.random(in: 0 ... 255, using: &random)
                case 1: // a page header field (kind, count, run length, aux)
                    let page = Int.random(in: 1 ..< bytes.count / 4096, using: &random)
                    bytes[page * 4096 + Int.random(in: 4 ..< 16, using: &random)] = UInt8.random(in: 0 ... 255, using: &random)
                case 2: // a page number inside a branch or commit record: point it elsewhere
                    let page = Int.random(in: 1 ..< bytes.count / 4096, using: &random)
                    let offset = page * 4096 + 16 + 8 * Int.random(in: 0 ..< 12, using: &random)
                    let target = UInt64.random(in: 0 ..< UInt64(bytes.count / 4096 + 3), using: &random)
                    for i in 0 ..< 8 { bytes[offset + i] = UInt8(truncatingIfNeeded: target >> (8 * UInt64(i))) }
                case 3: // the index
                    if !indexBytes.isEmpty { indexBytes[Int.random(in: 0 ..< indexBytes.count, using: &random)] ^= 0xFF }
                default: // a whole page copied over another (valid checksum, wrong place)
                    let from = Int.random(in: 1 ..< bytes.count / 4096, using: &random)
                    let to = Int.random(in: 1 ..< bytes.count / 4096, using: &random)
                    bytes.replaceSubrange(to * 4096 ..< (to + 1) * 4096, with: bytes[from * 4096 ..< (from + 1) * 4096])
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: damaged + "/data"))
            try Data(indexBytes).write(to: URL(fileURLWithPath: damaged + "/index"))
            let result = exercise(damaged, keys: keys)
            if result.opened { opened += 1 }
            if result.errors > 0 { detected += 1 }
            try? FileManager.default.removeItem(atPath: damaged)
        }
        print("hostile: 150 damaged copies, \(opened) opened, \(detected) reported damage; none crashed")
        XCTAssertGreaterThan(detected, 50)
    }

    func testNotADatabase() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("text")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try Data("hello, this is not a database at all".utf8).write(to: URL(fileURLWithPath: path + "/data"))
        XCTAssertThrowsError(try openDatabase(path: path)) {
            guard case CowDBError.notADatabase = $0 else { return XCTFail("\($0)") }
        }
        try Data(repeating: 0, count: 0).write(to: URL(fileURLWithPath: path + "/data"))
        XCTAssertThrowsError(try openDatabase(path: path)) {
            guard case CowDBError.notADatabase = $0 else { return XCTFail("\($0)") }
        }
    }
}
