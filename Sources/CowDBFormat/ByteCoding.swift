import CCowDBSupport

// Little-endian loads and stores on raw buffers. Every on-disk integer is little-endian,
// except the 8-byte key heads, which are the key's first bytes (big-endian as a number).
// No struct is ever cast over file bytes (redb's rule): fields are decoded one by one.
// All `@inlinable`: the B-tree and the API call them in their hottest loops, from other modules.

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always) package func u8(_ offset: Int) -> UInt8 { self[offset] }
    @inlinable @inline(__always) package func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inlinable @inline(__always) package func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    @inlinable @inline(__always) package func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    /// The 8-byte big-endian key head at `offset`, as a number that orders like the bytes.
    @inlinable @inline(__always) package func head(_ offset: Int) -> UInt64 { UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
}

extension UnsafeMutableRawBufferPointer {
    @inlinable @inline(__always) package func setU8(_ value: UInt8, _ offset: Int) { self[offset] = value }
    @inlinable @inline(__always) package func setU16(_ value: UInt16, _ offset: Int) { storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self) }
    @inlinable @inline(__always) package func setU32(_ value: UInt32, _ offset: Int) { storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    @inlinable @inline(__always) package func setU64(_ value: UInt64, _ offset: Int) { storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self) }
    /// Stores the 8-byte key head `value` at `offset`, big-endian (so that the bytes are the key's first bytes).
    @inlinable @inline(__always) package func setHead(_ value: UInt64, _ offset: Int) { storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self) }
    /// Copies `bytes` to `offset`.
    @inlinable @inline(__always) package func setBytes(_ bytes: UnsafeRawBufferPointer, _ offset: Int) {
        guard bytes.count > 0 else { return }
        UnsafeMutableRawBufferPointer(rebasing: self[offset ..< offset + bytes.count]).copyMemory(from: bytes)
    }
}

/// The 8-byte head of a key: its first 8 bytes, zero-padded, read big-endian, so that
/// comparing heads as integers orders keys like `memcmp` on their first 8 bytes.
@inlinable @inline(__always)
package func keyHead(_ key: UnsafeRawBufferPointer) -> UInt64 {
    if key.count >= 8 { return key.head(0) }
    var value: UInt64 = 0
    for i in 0 ..< key.count { value |= UInt64(key[i]) << (56 - 8 * UInt64(i)) }
    return value
}

/// `memcmp` order of two byte strings, shorter first on a common prefix.
@inlinable @inline(__always)
package func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = Swift.min(a.count, b.count)
    if n > 0, let pa = a.baseAddress, let pb = b.baseAddress {
        let r = cowdb_memcmp(pa, pb, n)
        if r != 0 { return Int(r) }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}

/// Whether the `count` bytes at `a` and at `b` are equal (`memcmp`).
@inlinable @inline(__always)
package func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Bool {
    count == 0 || cowdb_memcmp(a, b, count) == 0
}

/// `memcmp` order of two arrays.
@inlinable @inline(__always)
package func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pa, pb) } }
}

/// Hints the CPU to load the cache lines of `bytes[64 ..< end]` (clamped to the buffer), which
/// must start on a cache-line boundary, as pages do. A hint only: it reads nothing and never faults.
@inlinable @inline(__always)
package func prefetchLines(_ bytes: UnsafeRawBufferPointer, upTo end: Int) {
    guard let base = bytes.baseAddress else { return }
    let end = Swift.min(end, bytes.count)
    var offset = 64
    while offset < end {
        cowdb_prefetch(base + offset)
        offset &+= 64
    }
}

/// CRC-32C of a buffer, continuing from `seed`.
@inlinable @inline(__always)
package func crc32c(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
    return cowdb_crc32c(seed, base, bytes.count)
}

