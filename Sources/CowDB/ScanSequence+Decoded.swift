// Typed scans: the entries of a `ScanSequence` with keys and values decoded as
// `ByteRepresentable` types. A value that does not decode is handled as a damaged page is:
// it ends the walk, and is rethrown when the transaction's closure returns (`next()`) or
// thrown at once (`nextOrThrow()`).

extension ScanSequence {
    /// The same entries with keys decoded as `keyType` and values as `valueType`:
    ///
    /// ```swift
    /// for (name, email) in try txn.scan(prefix: "user:").decoded(as: String.self, String.self) { … }
    /// ```
    ///
    /// Bytes that are not a valid key or value of those types (`typeMismatch`) end the walk
    /// as a damaged page does (see `ScanSequence.Iterator`).
    public func decoded<Key: ByteRepresentable, Value: ByteRepresentable>(as keyType: Key.Type, _ valueType: Value.Type)
        -> DecodedScanSequence<Key, Value> {
        DecodedScanSequence(base: self)
    }
}

/// The entries of a range with decoded keys and values (`ScanSequence.decoded(as:_:)`).
public struct DecodedScanSequence<Key: ByteRepresentable, Value: ByteRepresentable>: Sequence {
    let base: ScanSequence

    /// An iterator decoding each entry of the scan.
    public func makeIterator() -> Iterator { Iterator(base: base.makeIterator()) }

    /// Walks the range as `ScanSequence.Iterator` does, decoding each entry.
    public struct Iterator: IteratorProtocol {
        var base: ScanSequence.Iterator

        /// The next entry; an error (a damaged page, or bytes that do not decode) ends the walk
        /// and is rethrown when the transaction's closure returns.
        public mutating func next() -> (key: Key, value: Value)? {
            do {
                return try nextOrThrow()
            } catch {
                base.keepForClosure(error)
                return nil
            }
        }

        /// The next entry; throws what stops the walk (a damaged page, or bytes that do not
        /// decode), after which the iterator is done.
        public mutating func nextOrThrow() throws -> (key: Key, value: Value)? {
            guard let entry = try base.nextOrThrow() else { return nil }
            do {
                return (try decode(entry.key, as: Key.self), try decode(entry.value, as: Value.self))
            } catch {
                base.done = true
                throw error
            }
        }
    }
}
