import Foundation

// Helpers shared by every test target: seeded randomness that replays from a printed seed,
// and temporary directories that clean up after themselves.

/// A seeded PRNG (SplitMix64): randomized tests replay exactly from their printed seed.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    /// A generator that replays from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = next()
            for _ in 0 ..< min(8, count - i) {
                result[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return result
    }
}

/// The seed for a randomized test: `COWDB_SEED` when set, else a fresh one; printed either way
/// (to stdout and, so that it survives a crash of the test process, to stderr).
public func testSeed(_ name: String) -> UInt64 {
    let seed = ProcessInfo.processInfo.environment["COWDB_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1 ... UInt64.max >> 1)
    print("\(name) seed: \(seed) (rerun with COWDB_SEED=\(seed))")
    FileHandle.standardError.write(Data("\(name) seed: \(seed)\n".utf8))
    return seed
}

/// A fresh directory under the temporary directory, removed when released (or, when a test
/// database inside it awaits its end-of-test check, after that).
public final class TemporaryDirectory {
    /// The directory.
    public let url: URL

    /// Creates the directory.
    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cowdb-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    // Removed now, or after the teardown check of a database inside it (see `KeptPaths`).
    deinit { KeptPaths.shared.remove(url.path) }
}

/// Bytes of a string.
public func b(_ string: String) -> [UInt8] { Array(string.utf8) }

/// Entries sorted in memcmp order.
public func sortedEntries(_ dictionary: [[UInt8]: [UInt8]]) -> [(key: [UInt8], value: [UInt8])] {
    dictionary.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { (key: $0.key, value: $0.value) }
}
