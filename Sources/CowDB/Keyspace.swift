import CowDBFormat
import CowDBStorage
import CowDBTree
/// A keyspace (named sub-database, like an LMDB named database or a bbolt bucket) within one
/// transaction. Reads work in any transaction; writes need a `WriteTransaction` and throw
/// `readOnly` otherwise. Valid only while its transaction's closure runs (later use throws
/// `closed`). Keys and values are any `ByteRepresentable` type, as in `ReadTransaction`.
public final class Keyspace {
    @usableFromInline
    let transaction: ReadTransaction
    /// The keyspace's name (nil: the default keyspace).
    public let name: String?

    init(transaction: ReadTransaction, name: String?) {
        self.transaction = transaction
        self.name = name
    }

    /// The value under `key`, or nil.
    @inlinable
    public func get<Key: ByteRepresentable>(_ key: Key) throws -> [UInt8]? {
        try key.withBytes { try transaction.get($0, in: name) }
    }

    /// The value under `key` decoded as `type`, or nil; throws `typeMismatch` when the stored
    /// bytes are not a `type`.
    @inlinable
    public func get<Key: ByteRepresentable, Value: ByteRepresentable>(_ key: Key, as type: Value.Type) throws -> Value? {
        try key.withBytes { key in try transaction.withValue(for: key, in: name) { try Value(bytes: $0) } }
    }

    /// Calls `body` with the value's bytes without copying them; nil when absent.
    @inlinable
    public func withValue<Key: ByteRepresentable, R>(for key: Key, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try key.withBytes { try transaction.withValue(for: $0, in: name, body) }
    }

    /// Whether `key` is present.
    @inlinable
    public func contains<Key: ByteRepresentable>(_ key: Key) throws -> Bool {
        try key.withBytes { try transaction.contains($0, in: name) }
    }

    /// Entries in `[from, to)` (either bound optional), ascending or descending.
    public func scan<From: ByteRepresentable, To: ByteRepresentable>(from: From? = [UInt8]?.none, to: To? = [UInt8]?.none,
                                                                   reverse: Bool = false) throws -> ScanSequence {
        try transaction.scan(in: name, from: from.map(byteArray), to: to.map(byteArray), reverse: reverse)
    }

    /// Calls `body` with each entry of `[from, to)` without copying, as
    /// `ReadTransaction.withEntries` does for the default keyspace.
    public func withEntries<From: ByteRepresentable, To: ByteRepresentable>(
        from: From? = [UInt8]?.none, to: To? = [UInt8]?.none, limit: Int = .max,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try transaction.withEntries(in: name, from: from.map(byteArray), to: to.map(byteArray), limit: limit, body)
    }

    /// A cursor over this keyspace, not yet positioned.
    public func cursor() throws -> Cursor { try transaction.cursor(in: name) }

    /// Entries in this keyspace.
    public func count() throws -> UInt64 {
        try transaction.ensureOpen()
        return try transaction.tree(name).count
    }

    /// Stores `value` under `key`, replacing any value.
    @inlinable
    public func put<Key: ByteRepresentable, Value: ByteRepresentable>(_ key: Key, _ value: Value) throws {
        let write = try writable()
        try key.withBytes { key in try value.withBytes { try write.put(key, $0, in: name) } }
    }

    /// Stores `value` under `key` only if absent; returns false (keeping the old value) otherwise.
    @inlinable
    public func insert<Key: ByteRepresentable, Value: ByteRepresentable>(_ key: Key, _ value: Value) throws -> Bool {
        let write = try writable()
        return try key.withBytes { key in try value.withBytes { try write.insert(key, $0, in: name) } }
    }

    /// Removes `key`; returns whether it was present.
    @inlinable @discardableResult
    public func delete<Key: ByteRepresentable>(_ key: Key) throws -> Bool {
        let write = try writable()
        return try key.withBytes { try write.delete($0, in: name) }
    }

    /// The transaction, if it may write; throws `readOnly` otherwise (`closed` after its closure).
    @usableFromInline
    func writable() throws -> WriteTransaction {
        try transaction.ensureOpen()
        guard let write = transaction as? WriteTransaction else { throw CowDBError.readOnly }
        return write
    }

    /// Checks the length of a key: 1 byte to the page size's maximum.
    @inline(__always)
    static func validate(keyLength: Int, layout: PageLayout) throws {
        guard keyLength > 0, keyLength <= layout.maxKeySize else { throw keyError(keyLength: keyLength, layout: layout) }
    }

    /// The error for a key length that `validate` refused.
    @inline(never)
    static func keyError(keyLength: Int, layout: PageLayout) -> CowDBError {
        keyLength == 0 ? .emptyKey : .keyTooLarge(size: keyLength, maximum: layout.maxKeySize)
    }

    /// Checks a keyspace name: 1–255 bytes, no NUL, newline or carriage return (names appear in dump headers).
    static func validate(name: String) throws {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 255, !bytes.contains(0), !bytes.contains(10), !bytes.contains(13) else {
            throw CowDBError.invalidKeyspaceName(name)
        }
    }
}
