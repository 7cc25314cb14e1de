// Values of the packed history tree's entries (FORMAT.md, "Packed history tree", "Values").
// A key removed at a version needs an entry that says so:
//
//   inline value    marker u8 ‖ bytes     marker 0x01: the value is `bytes`;
//                                         marker 0x00 (and no bytes): a tombstone, the key
//                                         absent from this version until its next entry
//   overflow value  the value's bytes, no marker (a tombstone is never large)
//
// A marker byte rather than a new leaf-cell flag: the leaf format stays the one every tree
// uses, at one byte per inline value.

/// Encoding and decoding of history pair values.
package enum HistoryValue {
    package static let tombstoneMarker: UInt8 = 0x00
    package static let valueMarker: UInt8 = 0x01

    /// The inline cell value of `value` (nil: a tombstone).
    package static func inline(_ value: UnsafeRawBufferPointer?) -> [UInt8] {
        guard let value else { return [tombstoneMarker] }
        return [valueMarker] + Array(value)
    }

    /// The value a stored pair value holds, or nil for a tombstone; throws `corrupt` naming
    /// `page` for an inline value without a valid marker.
    package static func decode(_ stored: StoredValue, page: PageNumber) throws -> StoredValue? {
        switch stored {
        case .overflow:
            return stored
        case let .inline(bytes):
            guard let marker = bytes.first else {
                throw CowDBError.corruptPage(page, "history value without its marker byte")
            }
            if marker == valueMarker { return .inline(UnsafeRawBufferPointer(rebasing: bytes[1...])) }
            guard marker == tombstoneMarker, bytes.count == 1 else {
                throw CowDBError.corruptPage(page, "history value with marker \(marker) and \(bytes.count - 1) bytes")
            }
            return nil
        }
    }
}
