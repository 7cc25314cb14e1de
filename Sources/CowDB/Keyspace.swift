import CowDBFormat
import CowDBStorage
import CowDBTree
/// A keyspace (named sub-database, like an LMDB named database or a bbolt bucket) within one
/// transaction. Reads work in any transaction; writes need a `WriteTransaction` and throw
/// `readOnly` otherwise. Valid only while its transaction's closure runs.
public final class Keyspace {
    let transaction: ReadTransaction
    /// The keyspace's name (nil: the default keyspace).
    public let name: String?

    init(transaction: ReadTransaction, name: String?) {
        self.transaction = transaction
        self.name = name
    }

    /// The value under `key`, or nil.
    public func get(_ key: [UInt8]) throws -> [UInt8]? { try transaction.get(key, in: name) }

    /// Calls `body` with the value's bytes without copying them; nil when absent.
    public func withValue<R>(for key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R? {
        try transaction.withValue(for: key, in: name, body)
    }

    /// Whether `key` is present.
    public func contains(_ key: [UInt8]) throws -> Bool { try transaction.contains(key, in: name) }

    /// Entries in `[from, to)` (either bound optional), ascending or descending.
    public func scan(from: [UInt8]? = nil, to: [UInt8]? = nil, reverse: Bool = false) throws -> ScanSequence {
        try transaction.scan(in: name, from: from, to: to, reverse: reverse)
    }

    /// Calls `body` with each entry of `[from, to)` without copying, as
    /// `ReadTransaction.withEntries` does for the default keyspace.
    public func withEntries(from: [UInt8]? = nil, to: [UInt8]? = nil, limit: Int = .max,
                            _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool) throws {
        try transaction.withEntries(in: name, from: from, to: to, limit: limit, body)
    }

    /// A cursor over this keyspace, not yet positioned.
    public func cursor() throws -> Cursor { try transaction.cursor(in: name) }

    /// Entries in this keyspace.
    public func count() throws -> UInt64 { transaction.ensureOpen(); return try transaction.tree(name).count }

    /// Stores `value` under `key`, replacing any value.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try writable().put(key, value, in: name)
    }

    /// Stores `value` under `key` only if absent; returns false (keeping the old value) otherwise.
    public func insert(_ key: [UInt8], _ value: [UInt8]) throws -> Bool {
        try writable().insert(key, value, in: name)
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    public func delete(_ key: [UInt8]) throws -> Bool {
        try writable().delete(key, in: name)
    }

    private func writable() throws -> WriteTransaction {
        transaction.ensureOpen()
        guard let write = transaction as? WriteTransaction else { throw CowDBError.readOnly }
        return write
    }

    /// Checks a key against the limits of the database's page size (inlined into every get;
    /// the error is built out of line).
    @inline(__always)
    static func validate(key: [UInt8], layout: PageLayout) throws {
        try validate(keyLength: key.count, layout: layout)
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
