// The value of a keyspace's entry in the catalog tree (whose key is the keyspace's name):
//
//   offset size field
//   0      8    root   root page of the keyspace's tree (u64 LE; 0: the keyspace is empty)
//   8      8    count  entries in the keyspace (u64 LE)
//
// Always 16 bytes, always inline in its leaf. This file is its one encoder and decoder.

/// A keyspace's catalog value: where its tree is and how many entries it holds.
package struct CatalogValue: Equatable, Sendable {
    /// Bytes of an encoded value.
    package static let size = 16
    /// Offsets of the fields.
    package static let rootOffset = 0
    package static let countOffset = 8

    /// Root page of the keyspace's tree (0 when it is empty).
    package var root: PageNumber
    /// Entries in the keyspace.
    package var count: UInt64

    /// Memberwise.
    package init(root: PageNumber, count: UInt64) {
        self.root = root
        self.count = count
    }

    /// The 16 bytes stored in the catalog.
    package func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.size)
        bytes.withUnsafeMutableBytes {
            $0.setU64(root, Self.rootOffset)
            $0.setU64(count, Self.countOffset)
        }
        return bytes
    }

    /// Decodes the catalog value of keyspace `name` found in leaf page `page` (nil when not
    /// known, as for a value in a changed node), checking its length and that its root lies
    /// below `limit` (the pages the reading version may reference); throws `corrupt` otherwise.
    package static func decode(_ bytes: UnsafeRawBufferPointer, keyspace name: String, page: PageNumber?, limit: PageNumber) throws -> CatalogValue {
        guard bytes.count == size else {
            throw CowDBError.corrupt(page: page, offset: nil,
                                     reason: "catalog value of keyspace \(name.debugDescription) is \(bytes.count) bytes, not \(size)")
        }
        let value = CatalogValue(root: bytes.u64(rootOffset), count: bytes.u64(countOffset))
        guard value.root < limit else {
            throw CowDBError.corrupt(page: page, offset: nil,
                                     reason: "catalog value of keyspace \(name.debugDescription) names root page \(value.root), not below \(limit)")
        }
        return value
    }
}
