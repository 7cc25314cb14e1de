// Sizes derived from the page size, fixed when a database is created.
//
// Every entry (cell plus its slot) is at most `maxEntrySize = (pageSize − 16) / 4` bytes,
// so any page holds at least four entries and a split always has room. The maximum key
// size follows: a branch entry is 20 bytes plus the key, a leaf entry whose value went to
// an overflow run is 25 bytes plus the key, so `maxKeySize = maxEntrySize − 28`
// (992 bytes at 4 KiB, 16,352 at 64 KiB; LMDB allows 511). The 3 bytes beyond the
// 25-byte worst case are slack kept for a future cell flag.

/// Limits that follow from the page size. (`@inlinable` where the B-tree's and the API's hot
/// paths read them from other modules, so that they fold there.)
@usableFromInline package struct PageLayout: Sendable, Equatable {
    /// Smallest and largest allowed page sizes.
    package static let minPageSize = 4096
    package static let maxPageSize = 65536
    /// The largest value CowDB stores (1 GiB); it is kept in one overflow run.
    @inlinable package static var maxValueSize: Int { 1 << 30 }
    /// B-trees deeper than this do not occur (fan-out ≥ 4 at every level); a deeper path
    /// means a damaged or hostile file, and stops the descent before it can recurse far.
    @inlinable package static var maxDepth: Int { 48 }

    @usableFromInline package let pageSize: Int

    /// Memberwise.
    package init(pageSize: Int) {
        self.pageSize = pageSize
    }

    /// Whether `size` is a power of two from 4 KiB to 64 KiB.
    package static func isValidPageSize(_ size: Int) -> Bool {
        size >= minPageSize && size <= maxPageSize && size & (size - 1) == 0
    }

    /// The most bytes one entry (slot + cell) may use, so that a page holds four.
    @inlinable package var maxEntrySize: Int { (pageSize - PageHeader.size) / 4 }

    /// The longest key allowed.
    @inlinable package var maxKeySize: Int { maxEntrySize - 28 }

    /// The most bytes one entry of a packed history tree may use: half a page, so that a page
    /// holds two. History trees are written once, bottom-up, and never split; their composite
    /// keys (`HistoryKey`) are longer than the user keys they hold (1,637 bytes at most at 4 KiB).
    @inlinable package var historyMaxEntrySize: Int { (pageSize - PageHeader.size) / 2 }

    /// The longest composite key of a history tree.
    @inlinable package var historyMaxKeySize: Int { historyMaxEntrySize - 28 }

    /// Bytes of page available to entries.
    package var usableSize: Int { pageSize - PageHeader.size }

    /// Whether a value of `valueLength` bytes is stored in the leaf beside a key of `keyLength` bytes.
    @inlinable @inline(__always)
    package func valueIsInline(keyLength: Int, valueLength: Int) -> Bool {
        LeafPage.entrySize(keyLength: keyLength, inlineValueLength: valueLength) <= maxEntrySize
    }

    /// Pages in an overflow run holding `valueLength` bytes.
    package func overflowRunLength(valueLength: Int) -> Int {
        (PageHeader.size + valueLength + pageSize - 1) / pageSize
    }
}
