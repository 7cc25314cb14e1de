import CowDBFormat
import CowDBStorage
import CowDBTree

extension CatalogValue {
    /// The catalog value of keyspace `name` that a catalog search or cursor `found`, decoded
    /// and checked (`CatalogValue.decode`) against the pages `pages` may reference.
    static func read(_ found: FoundValue, keyspace name: String, pages: PageReader) throws -> CatalogValue {
        var page: PageNumber?
        if case let .stored(_, leafPage) = found { page = leafPage }
        return try BTree.withBytes(of: found, pages: pages) { bytes in
            try CatalogValue.decode(bytes, keyspace: name, page: page, limit: pages.limit)
        }
    }
}
