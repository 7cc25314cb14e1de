// A leaf page: the entries of a B-tree in key order.
//
//   offset        size  field
//   0             16    page header (kind 2, count n)
//   16            8·n   heads: first 8 bytes of each key, zero-padded (big-endian order)
//   16 + 8n       2·n   cell offsets from the start of the page (u16 LE)
//   …                   cells, packed after the offsets, in key order:
//
//   cell:  0  2  keyLength
//          2  1  flags       bit 0: the value lives in an overflow run
//          3  4  valueLength
//          7  k  key bytes
//          7+k   inline: valueLength bytes; overflow: first page of the run (u64 LE)
//
// Binary search walks the contiguous heads array and reads a full key only when heads tie.

/// Sizes of leaf entries (the writer's encoder is `Node.encode`, which keeps cells in this
/// encoding), and zero-copy decoding below.
package enum LeafPage {
    package static let cellHeaderSize = 7
    package static let overflowFlag: UInt8 = 1

    /// Bytes an entry takes (head + offset + cell) when its value is inline.
    @inline(__always)
    package static func entrySize(keyLength: Int, inlineValueLength: Int) -> Int {
        8 + 2 + cellHeaderSize + keyLength + inlineValueLength
    }
}

/// A read-only view of a leaf page in mapped memory. Every offset and length read from the
/// page is checked against the page before use; violations throw `corrupt`.
package struct LeafPageView {
    package let page: UnsafeRawBufferPointer
    package let number: PageNumber
    package let count: Int

    /// Checks the header fields that every access relies on (inlined into every descent;
    /// the error is built out of line).
    @inline(__always)
    package init(_ page: UnsafeRawBufferPointer, number: PageNumber) throws {
        let n = Int(page.u16(PageHeader.countOffset))
        guard page.u8(PageHeader.kindOffset) == PageKind.leaf.rawValue, page.u32(PageHeader.runLengthOffset) == 1,
              PageHeader.size + 10 * n <= page.count
        else { throw Self.headerError(page, number: number) }
        self.page = page
        self.number = number
        self.count = n
    }

    /// The error for a page whose header `init` refused.
    @inline(never)
    package static func headerError(_ page: UnsafeRawBufferPointer, number: PageNumber) -> CowDBError {
        PageHeader.singlePageError(page, number: number, expected: .leaf, countProblem: "does not fit the page")
    }

    /// Offset of cell `i`, checked so that its fixed header lies inside the page.
    @inline(__always)
    package func cellOffset(_ i: Int) throws -> Int {
        let offset = Int(page.u16(PageHeader.size + 8 * count + 2 * i))
        guard offset >= PageHeader.size + 10 * count, offset + LeafPage.cellHeaderSize <= page.count else {
            throw CowDBError.corruptPage(number, "leaf cell \(i) offset \(offset) out of bounds", offset: PageHeader.size + 8 * count + 2 * i)
        }
        return offset
    }

    /// The head of entry `i`.
    @inline(__always)
    package func head(_ i: Int) -> UInt64 { page.head(PageHeader.size &+ 8 &* i) }

    /// Starts loading every cache line `lowerBound` may read before the cell it ends at (the
    /// heads and the cell offsets), all at once: their misses then overlap instead of
    /// following one another down the binary search. The first line, which holds the page
    /// header, is loaded already.
    @inline(__always)
    package func prefetchSearchArea() {
        prefetchLines(page, upTo: PageHeader.size + 10 * count)
    }

    /// The key bytes of entry `i` (a view into the page).
    @inline(__always)
    package func key(_ i: Int) throws -> UnsafeRawBufferPointer {
        let cell = try cellOffset(i)
        let length = Int(page.u16(cell))
        let start = cell + LeafPage.cellHeaderSize
        guard start + length <= page.count else {
            throw CowDBError.corruptPage(number, "leaf key \(i) of \(length) bytes runs past the page", offset: cell)
        }
        return UnsafeRawBufferPointer(rebasing: page[start ..< start + length])
    }

    /// The stored value of entry `i`: inline bytes (a view into the page) or an overflow reference.
    @inline(__always)
    package func value(_ i: Int) throws -> StoredValue {
        let cell = try cellOffset(i)
        let keyLength = Int(page.u16(cell))
        let flags = page.u8(cell + 2)
        let length = Int(page.u32(cell + 3))
        let start = cell + LeafPage.cellHeaderSize + keyLength
        if flags & LeafPage.overflowFlag != 0 {
            guard start + 8 <= page.count else {
                throw CowDBError.corruptPage(number, "leaf overflow reference \(i) runs past the page", offset: cell)
            }
            return .overflow(page: page.u64(start), length: length)
        }
        guard start + length <= page.count else {
            throw CowDBError.corruptPage(number, "leaf value \(i) of \(length) bytes runs past the page", offset: cell)
        }
        return .inline(UnsafeRawBufferPointer(rebasing: page[start ..< start + length]))
    }

    /// The key and stored value of entry `i` (one cell lookup for both; checked like `key` and `value`).
    @inline(__always)
    package func entry(_ i: Int) throws -> (key: UnsafeRawBufferPointer, value: StoredValue) {
        let cell = try cellOffset(i)
        let keyLength = Int(page.u16(cell))
        let flags = page.u8(cell + 2)
        let length = Int(page.u32(cell + 3))
        let start = cell + LeafPage.cellHeaderSize
        let valueStart = start + keyLength
        guard valueStart <= page.count else {
            throw CowDBError.corruptPage(number, "leaf key \(i) of \(keyLength) bytes runs past the page", offset: cell)
        }
        let key = UnsafeRawBufferPointer(rebasing: page[start ..< valueStart])
        if flags & LeafPage.overflowFlag != 0 {
            guard valueStart + 8 <= page.count else {
                throw CowDBError.corruptPage(number, "leaf overflow reference \(i) runs past the page", offset: cell)
            }
            return (key, .overflow(page: page.u64(valueStart), length: length))
        }
        guard valueStart + length <= page.count else {
            throw CowDBError.corruptPage(number, "leaf value \(i) of \(length) bytes runs past the page", offset: cell)
        }
        return (key, .inline(UnsafeRawBufferPointer(rebasing: page[valueStart ..< valueStart + length])))
    }

    /// Bytes the page's header and entries take (what `Node.size` would be).
    package func storedSize() throws -> Int {
        var size = PageHeader.size
        for i in 0 ..< count {
            let cell = try cellOffset(i)
            let inline = page.u8(cell + 2) & LeafPage.overflowFlag == 0
            size += LeafPage.entrySize(keyLength: Int(page.u16(cell)), inlineValueLength: inline ? Int(page.u32(cell + 3)) : 8)
        }
        return size
    }

    /// First index whose key is ≥ `key`, and whether it is equal.
    ///
    /// Heads order keys by their first 8 bytes, so a search over heads alone finds the first
    /// entry whose head is ≥ `head`; full keys are compared only among the entries whose head
    /// equals it. (Indices stay below `count` < 65,536, so the index arithmetic cannot
    /// overflow and wraps unchecked.)
    @inline(__always)
    package func lowerBound(_ key: UnsafeRawBufferPointer, head: UInt64) throws -> (index: Int, found: Bool) {
        var low = 0, high = count
        while low < high {
            let mid = (low &+ high) &>> 1
            if self.head(mid) < head { low = mid &+ 1 } else { high = mid }
        }
        guard low < count, self.head(low) == head else { return (low, false) }
        // Heads tie: usually `low` holds the key itself (or the next key) and one compare settles it.
        let first = compareBytes(try self.key(low), key)
        if first >= 0 { return (low, first == 0) }
        return try lowerBoundPastTie(key, head: head, from: low &+ 1)
    }

    /// The rest of `lowerBound` when several keys share `key`'s head and the first of them is
    /// below `key`: a binary search of `[from, count)` on full keys (kept out of line, so that
    /// the common path stays small enough to inline).
    @inline(never)
    package func lowerBoundPastTie(_ key: UnsafeRawBufferPointer, head: UInt64, from: Int) throws -> (index: Int, found: Bool) {
        var low = from, high = count
        while low < high {
            let mid = (low &+ high) &>> 1
            let order = self.head(mid) > head ? 1 : compareBytes(try self.key(mid), key)
            if order < 0 { low = mid &+ 1 } else if order > 0 { high = mid } else { return (mid, true) }
        }
        return (low, false)
    }
}

/// A value as found in a page: bytes in the page, or a reference to an overflow run.
package enum StoredValue {
    case inline(UnsafeRawBufferPointer)
    case overflow(page: PageNumber, length: Int)
}
