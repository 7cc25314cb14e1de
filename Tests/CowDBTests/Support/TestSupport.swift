import Foundation
import XCTest
@testable import CowDB

/// A seeded PRNG (SplitMix64) for reproducible randomized tests.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Random bytes of a given length.
    mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { buffer in
            var i = 0
            while i < count {
                var word = next()
                for _ in 0 ..< min(8, count - i) {
                    buffer[i] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    i += 1
                }
            }
        }
        return result
    }
}

/// The seed for a randomized test: `COWDB_SEED` when set, else a fresh one; printed either way.
func testSeed(_ name: String) -> UInt64 {
    let seed = ProcessInfo.processInfo.environment["COWDB_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1 ... UInt64.max >> 1)
    print("\(name) seed: \(seed) (rerun with COWDB_SEED=\(seed))")
    FileHandle.standardError.write(Data("\(name) seed: \(seed)\n".utf8))
    return seed
}

/// A fresh directory for a test database, removed by `cleanup`.
final class TemporaryDirectory {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cowdb-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Bytes of a string.
func b(_ string: String) -> [UInt8] { Array(string.utf8) }

/// Sorted in memcmp order.
func sortedEntries(_ dictionary: [[UInt8]: [UInt8]]) -> [(key: [UInt8], value: [UInt8])] {
    dictionary.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (key: $0.key, value: $0.value) }
}

extension Database {
    /// Closes after asserting that `check()` finds every version clean (every test database
    /// is checked when it closes, as bbolt's tests do).
    func checkAndClose(allVersions: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        let report = try checkReport(allVersions: allVersions)
        XCTAssertTrue(report.isClean, "check found: \(report.problems.prefix(5))", file: file, line: line)
        try close()
    }
}
