import Foundation

/// A type whose values CowDB can store as keys or values: it hands out its bytes, and decodes
/// itself from stored bytes. `[UInt8]`, `ArraySlice<UInt8>`, `Data`, `String` and `Substring`
/// (as UTF-8) conform; every API that takes a key or value takes any conforming type, and the
/// same bytes reach the same entry whatever type spelled them: `"user:1"` and
/// `Array("user:1".utf8)` are one key.
///
/// Keys sort by their bytes, so a type of your own decides its order by the bytes it gives. A
/// number stored big-endian sorts as the number does:
///
/// ```swift
/// struct OrderID: ByteRepresentable {
///     var value: UInt64
///     init(_ value: UInt64) { self.value = value }
///     func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
///         try withUnsafeBytes(of: value.bigEndian, body)
///     }
///     init(bytes: UnsafeRawBufferPointer) throws {
///         guard bytes.count == 8 else { throw CowDBError.typeMismatch("an OrderID is 8 bytes, not \(bytes.count)") }
///         value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
///     }
/// }
///
/// try db.write { txn in try txn.put(OrderID(42), "shipped") }
/// let state = try db.read { txn in try txn.get(OrderID(42), as: String.self) }
/// ```
public protocol ByteRepresentable {
    /// Calls `body` with the bytes stored for this value (no copy where the type allows). The
    /// bytes are valid only during the call.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
    /// Decodes a value from stored bytes (valid only during the call: copy what is kept).
    /// Throws `CowDBError.typeMismatch` when the bytes are not a valid value of this type.
    init(bytes: UnsafeRawBufferPointer) throws
}

extension Array: ByteRepresentable where Element == UInt8 {
    /// Calls `body` with the array's own storage.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try withUnsafeBytes(body) }

    /// Copies the bytes (any bytes are a valid `[UInt8]`).
    @inlinable
    public init(bytes: UnsafeRawBufferPointer) { self.init(bytes) }
}

extension ArraySlice: ByteRepresentable where Element == UInt8 {
    /// Calls `body` with the slice's own storage.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try withUnsafeBytes(body) }

    /// Copies the bytes.
    @inlinable
    public init(bytes: UnsafeRawBufferPointer) { self.init(bytes) }
}

extension Data: ByteRepresentable {
    /// Calls `body` with the data's bytes.
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try withUnsafeBytes(body) }

    /// Copies the bytes.
    @inlinable
    public init(bytes: UnsafeRawBufferPointer) { self.init(bytes) }
}

extension String: ByteRepresentable {
    /// Calls `body` with the string's UTF-8 (its own storage when contiguous, else a copy).
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try utf8.withBytesOrCopy(body)
    }

    /// Decodes UTF-8; throws `typeMismatch` for bytes that are not valid UTF-8 (they are never
    /// repaired: a replacement character would hand back a string that was never stored).
    public init(bytes: UnsafeRawBufferPointer) throws {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CowDBError.typeMismatch("\(bytes.count) bytes that are not valid UTF-8 read as a String")
        }
        self = text
    }
}

extension Substring: ByteRepresentable {
    /// Calls `body` with the substring's UTF-8 (its own storage when contiguous, else a copy).
    @inlinable
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try utf8.withBytesOrCopy(body)
    }

    /// Decodes UTF-8 as `String` does; throws `typeMismatch` for invalid UTF-8.
    public init(bytes: UnsafeRawBufferPointer) throws { self.init(try String(bytes: bytes)) }
}

extension Collection where Element == UInt8 {
    /// Calls `body` with the collection's contiguous bytes, copied first when it has none.
    @inlinable
    func withBytesOrCopy<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let result = try withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) { return result }
        return try Array(self).withUnsafeBytes(body)
    }
}

// MARK: Conversions the API uses

/// The bytes of `value` as an array: the array itself for `[UInt8]` (no copy), else a copy.
/// For range bounds, which a scan keeps beyond the call.
@inlinable
func byteArray<K: ByteRepresentable>(_ value: K) -> [UInt8] {
    if let bytes = value as? [UInt8] { return bytes }
    return value.withBytes { Array($0) }
}

/// Decodes `bytes` as a `T`: the array itself when `T` is `[UInt8]` (no copy).
@inlinable
func decode<T: ByteRepresentable>(_ bytes: [UInt8], as type: T.Type) throws -> T {
    if let same = bytes as? T { return same }
    return try bytes.withUnsafeBytes { try T(bytes: $0) }
}
