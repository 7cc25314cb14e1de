// The benchmark's data, as in redb's benchmark: random 24-byte keys and 150-byte values from a
// fixed seed. Pair i is computed on demand rather than stored, so no engine's process carries
// the data set in its anonymous memory.

/// SplitMix64's finalizer: a well-mixed 64-bit value for each input.
@inline(__always)
func mix(_ input: UInt64) -> UInt64 {
    var z = input &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The deterministic pairs every engine loads: pair `i` is the same bytes in every process.
struct Dataset: Sendable {
    /// Key length in bytes.
    static let keySize = 24
    /// Value length in bytes.
    static let valueSize = 150

    /// The seed every pair derives from.
    let seed: UInt64
    /// How many pairs the bulk load writes (pairs `0 ..< count`); later writes use indices above.
    let count: Int

    /// Writes key `i` into `buffer` (at least `keySize` bytes).
    @inline(__always)
    func key(_ i: Int, into buffer: UnsafeMutableRawBufferPointer) {
        fill(buffer, words: 3, stream: UInt64(i) &* 2)
    }

    /// Writes value `i` into `buffer` (at least `valueSize` bytes).
    @inline(__always)
    func value(_ i: Int, into buffer: UnsafeMutableRawBufferPointer) {
        fill(buffer, words: (Dataset.valueSize + 7) / 8 - 1, stream: UInt64(i) &* 2 &+ 1)
        // The last 6 bytes (150 = 18 * 8 + 6).
        var last = mix((seed ^ mix(UInt64(i) &* 2 &+ 1)) &+ 18)
        for offset in 144 ..< Dataset.valueSize {
            buffer[offset] = UInt8(truncatingIfNeeded: last)
            last >>= 8
        }
    }

    /// The index of the `j`-th random pick among the bulk-loaded pairs of stream `stream`
    /// (with replacement, like redb's random reads).
    @inline(__always)
    func pick(_ j: Int, stream: UInt64) -> Int {
        Int(mix(seed &+ mix(stream &+ 0x5EED) &+ UInt64(j)) % UInt64(count))
    }

    /// Fills `words` 8-byte words of `buffer` from stream `stream`.
    @inline(__always)
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, words: Int, stream: UInt64) {
        let base = seed ^ mix(stream)
        for w in 0 ..< words {
            buffer.storeBytes(of: mix(base &+ UInt64(w)).littleEndian, toByteOffset: w * 8, as: UInt64.self)
        }
    }
}

/// A reusable key or value buffer, refilled in place (no allocation per operation).
struct PairBuffers {
    /// The key bytes (an array, for CowDB's API; its storage is reused).
    var key = [UInt8](repeating: 0, count: Dataset.keySize)
    /// The value bytes.
    var value = [UInt8](repeating: 0, count: Dataset.valueSize)

    /// Loads key `i` into `key`.
    @inline(__always)
    mutating func loadKey(_ i: Int, from data: Dataset) {
        key.withUnsafeMutableBytes { data.key(i, into: $0) }
    }

    /// Loads pair `i` into `key` and `value`.
    @inline(__always)
    mutating func load(_ i: Int, from data: Dataset) {
        key.withUnsafeMutableBytes { data.key(i, into: $0) }
        value.withUnsafeMutableBytes { data.value(i, into: $0) }
    }

    /// Replaces the value's first 8 bytes with `stamp` (little-endian).
    @inline(__always)
    mutating func stamp(_ stamp: UInt64) {
        value.withUnsafeMutableBytes { $0.storeBytes(of: stamp.littleEndian, toByteOffset: 0, as: UInt64.self) }
    }
}

/// The sum of every byte of `bytes`: how each read touches all it returns; the sums are
/// compared across engines, so every engine must return the same bytes.
@inline(__always)
func byteSum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var sum: UInt64 = 0
    for byte in bytes { sum &+= UInt64(byte) }
    return sum
}
