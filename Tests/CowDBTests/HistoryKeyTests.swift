import CowDBTestSupport
import Foundation
import XCTest
import CowDBFormat

/// The history tree's composite keys (`HistoryKey`, docs/PACKED-HISTORY.md): bytes as drawn,
/// byte order equal to the order the history needs, round trips, and damaged keys refused.
final class HistoryKeyTests: XCTestCase {
    /// A short byte string rich in 0x00, 0x01 and 0xFF (the bytes escaping is about).
    private func field(_ random: inout SeededGenerator) -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x00, 0x01, 0xFF, 0xFE, 0x61]
        return (0 ..< Int.random(in: 0 ... 5, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
    }

    private func pair(_ keyspace: [UInt8], _ key: [UInt8], _ version: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        keyspace.withUnsafeBytes { ks in key.withUnsafeBytes { HistoryKey.pair(keyspace: ks, key: $0, version: version, into: &out) } }
        return out
    }

    private func change(_ version: UInt64, _ keyspace: [UInt8], _ key: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        keyspace.withUnsafeBytes { ks in key.withUnsafeBytes { HistoryKey.change(version: version, keyspace: ks, key: $0, into: &out) } }
        return out
    }

    private func after(_ keyspace: [UInt8], _ key: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        keyspace.withUnsafeBytes { ks in key.withUnsafeBytes { HistoryKey.afterAllVersions(keyspace: ks, key: $0, into: &out) } }
        return out
    }

    private func decode(_ bytes: [UInt8]) throws -> HistoryKey.Decoded {
        try bytes.withUnsafeBytes { try HistoryKey.decode($0, page: 9) }
    }

    /// -1, 0, 1.
    private func sign(_ value: Int) -> Int { value < 0 ? -1 : (value > 0 ? 1 : 0) }

    func testBytesAsDrawn() throws {
        // 0x01 ‖ esc("") ‖ grp("a\0b") ‖ BE64(~5)
        XCTAssertEqual(pair([], [0x61, 0x00, 0x62], 5),
                       [0x01, 0x00, 0x00, 0x61, 0x00, 0x62, 0, 0, 0, 0, 0, 0xF3] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFA])
        XCTAssertEqual(change(5, [0x73], [0x6B]), [0x03, 0, 0, 0, 0, 0, 0, 0, 5, 0x73, 0x00, 0x00, 0x6B, 0, 0, 0, 0, 0, 0, 0, 0xF1])
        // grp of 8 bytes: one full last group (marker 0xF8); of 9: a group, then one of 1 byte.
        XCTAssertEqual(pair([], [1, 2, 3, 4, 5, 6, 7, 8], 0).dropFirst(3).dropLast(8), [1, 2, 3, 4, 5, 6, 7, 8, 0xF8])
        XCTAssertEqual(pair([], [1, 2, 3, 4, 5, 6, 7, 8, 9], 0).dropFirst(3).dropLast(8),
                       [1, 2, 3, 4, 5, 6, 7, 8, 0xFF, 9, 0, 0, 0, 0, 0, 0, 0, 0xF1])
        XCTAssertEqual(HistoryKey.groupedCount(992), 1116)
        XCTAssertEqual(HistoryKey.groupedCount(24), 27)
        var catalog: [UInt8] = []
        [UInt8]([0x73]).withUnsafeBytes { HistoryKey.catalog(keyspace: $0, version: 0, into: &catalog) }
        XCTAssertEqual(catalog, [0x02, 0x73, 0x00, 0x00] + [UInt8](repeating: 0xFF, count: 8))
        XCTAssertEqual(after([], [0x61]), [0x01, 0x00, 0x00, 0x61, 0, 0, 0, 0, 0, 0, 0, 0xF1] + [UInt8](repeating: 0xFF, count: 9))
    }

    /// Byte order of pair keys = (keyspace, key) in byte order, then newer versions first.
    func testPairKeysSortAsTheHistoryNeeds() {
        let seed = testSeed("history-key-order")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 20_000 {
            let (ks1, k1, v1) = (field(&random), field(&random), UInt64.random(in: 0 ... 3, using: &random))
            let (ks2, k2, v2) = (field(&random), field(&random), UInt64.random(in: 0 ... 3, using: &random))
            var expected = sign(compareBytes(ks1, ks2))
            if expected == 0 { expected = sign(compareBytes(k1, k2)) }
            if expected == 0 { expected = v1 == v2 ? 0 : (v1 > v2 ? -1 : 1) }
            XCTAssertEqual(sign(compareBytes(pair(ks1, k1, v1), pair(ks2, k2, v2))), expected,
                           "seed \(seed) round \(round): \(ks1) \(k1) \(v1) vs \(ks2) \(k2) \(v2)")
            var expectedChange = v1 == v2 ? 0 : (v1 < v2 ? -1 : 1)
            if expectedChange == 0 { expectedChange = sign(compareBytes(ks1, ks2)) }
            if expectedChange == 0 { expectedChange = sign(compareBytes(k1, k2)) }
            XCTAssertEqual(sign(compareBytes(change(v1, ks1, k1), change(v2, ks2, k2))), expectedChange, "seed \(seed) round \(round)")
        }
    }

    /// `afterAllVersions` lies above every version of its key and below every greater key's
    /// entries, among them keys it is a prefix of (`key ‖ 0x00`, `key ‖ 0x00 0x00`).
    func testAfterAllVersionsSeparatesAKeyFromTheNext() {
        let seed = testSeed("history-key-after")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 5_000 {
            let (keyspace, key) = (field(&random), field(&random))
            let bound = after(keyspace, key)
            for version in [0, 1, UInt64.max] {
                XCTAssertLessThan(compareBytes(pair(keyspace, key, version), bound), 0, "seed \(seed) round \(round)")
            }
            let greater = [key + [0], key + [0, 0], key + [1], key + [0xFF], field(&random)].filter { compareBytes($0, key) > 0 }
            for other in greater {
                for version in [0, UInt64.max] {
                    XCTAssertGreaterThan(compareBytes(pair(keyspace, other, version), bound), 0, "seed \(seed) round \(round): \(key) < \(other)")
                }
            }
        }
    }

    func testRoundTrips() throws {
        let seed = testSeed("history-key-round-trip")
        var random = SeededGenerator(seed: seed)
        for _ in 0 ..< 2_000 {
            let (keyspace, key, version) = (field(&random), field(&random), UInt64.random(in: 0 ... .max, using: &random))
            XCTAssertEqual(try decode(pair(keyspace, key, version)), .init(kind: .pair, keyspace: keyspace, key: key, version: version), "seed \(seed)")
            XCTAssertEqual(try decode(change(version, keyspace, key)), .init(kind: .change, keyspace: keyspace, key: key, version: version), "seed \(seed)")
            var catalog: [UInt8] = []
            keyspace.withUnsafeBytes { HistoryKey.catalog(keyspace: $0, version: version, into: &catalog) }
            XCTAssertEqual(try decode(catalog), .init(kind: .catalog, keyspace: keyspace, key: [], version: version), "seed \(seed)")
        }
    }

    /// Damaged keys throw `corrupt` naming the page; random bytes either decode to a key that
    /// encodes back to the same bytes or throw — never trap.
    func testDamagedKeysAreRefused() throws {
        let good = pair([0x73], [0x61, 0x00], 7)
        let damaged: [[UInt8]] = [
            [], [0x04] + good.dropFirst(), Array(good.dropLast()), good + [0],
            [0x01, 0x61, 0x00, 0x05] + [UInt8](repeating: 0, count: 8), // a zero escaped by 0x05
            [0x01, 0x61, 0x00], // a field without its terminator
            [0x01, 0x00, 0x00, 0x61, 0, 0, 0, 0, 0, 0, 0, 0x10] + [UInt8](repeating: 0, count: 8), // a group marker below 0xF0
            [0x01, 0x00, 0x00, 0x61, 0, 0, 0, 0, 0, 0, 0, 0xF9] + [UInt8](repeating: 0, count: 8), // a group marker above 0xF8
            [0x01, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64, 0, 0, 0, 0, 0xF3] + [UInt8](repeating: 0, count: 8), // padding not zero
            [0x01, 0x00, 0x00, 0x61, 0, 0, 0], // a key ending inside a group
        ]
        for bytes in damaged {
            XCTAssertThrowsError(try decode(bytes), "\(bytes)") { error in
                guard case let CowDBError.corrupt(page, _, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(page, 9)
            }
        }
        let seed = testSeed("history-key-garbage")
        var random = SeededGenerator(seed: seed)
        var decodedCount = 0
        for _ in 0 ..< 20_000 {
            // A valid key with one byte changed, inserted or removed.
            var bytes = pair(field(&random), field(&random), UInt64.random(in: 0 ... .max, using: &random))
            let at = Int.random(in: 0 ..< bytes.count, using: &random), byte: UInt8 = [0x00, 0xFF, 0x01, 0x02, 0x03].randomElement(using: &random)!
            switch Int.random(in: 0 ..< 3, using: &random) {
            case 0: bytes[at] = byte
            case 1: bytes.insert(byte, at: at)
            default: bytes.remove(at: at)
            }
            guard let decoded = try? decode(bytes) else { continue }
            decodedCount += 1
            let again = HistoryKey.encode(decoded)
            XCTAssertEqual(again, bytes, "seed \(seed): decoding is not the inverse of encoding")
        }
        XCTAssertGreaterThan(decodedCount, 1_000, "seed \(seed): too few damaged keys still decode to test the inverse")
    }
}
