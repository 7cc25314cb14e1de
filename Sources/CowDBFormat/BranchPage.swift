// A branch page: separator keys and child page numbers.
//
//   offset        size  field
//   0             16    page header (kind 1, count n ≥ 1)
//   16            8·n   heads: first 8 bytes of each separator, zero-padded
//   16 + 8n       8·n   child page numbers (u64 LE); child i holds keys in [sep i, sep i+1)
//   16 + 16n      2·n   cell offsets from the start of the page (u16 LE)
//   …                   cells, packed after the offsets:  keyLength u16 | key bytes
//
// Separator 0 is empty and stands for "everything below separator 1". Every child's page
// number is below its parent's: pages are only appended, children before parents.

/// Sizes of branch entries (the writer's encoder is `Node.encode`), and zero-copy decoding below.
package enum BranchPage {
    /// Bytes an entry takes (head + child + offset + cell).
    @inline(__always)
    package static func entrySize(keyLength: Int) -> Int { 8 + 8 + 2 + 2 + keyLength }
}

/// A read-only view of a branch page in mapped memory, bounds-checked like `LeafPageView`.
package struct BranchPageView {
    package let page: UnsafeRawBufferPointer
    package let number: PageNumber
    package let count: Int

    /// Checks the header fields that every access relies on (inlined into every descent;
    /// the error is built out of line).
    @inline(__always)
    package init(_ page: UnsafeRawBufferPointer, number: PageNumber) throws {
        let n = Int(page.u16(PageHeader.countOffset))
        guard page.u8(PageHeader.kindOffset) == PageKind.branch.rawValue, page.u32(PageHeader.runLengthOffset) == 1,
              n >= 1, PageHeader.size + 18 * n <= page.count
        else { throw Self.headerError(page, number: number) }
        self.page = page
        self.number = number
        self.count = n
    }

    /// The error for a page whose header `init` refused.
    @inline(never)
    package static func headerError(_ page: UnsafeRawBufferPointer, number: PageNumber) -> CowDBError {
        PageHeader.singlePageError(page, number: number, expected: .branch, countProblem: "is zero or does not fit the page")
    }

    /// The head of separator `i`.
    @inline(__always)
    package func head(_ i: Int) -> UInt64 { page.head(PageHeader.size &+ 8 &* i) }

    /// Starts loading every cache line of the heads at once, so that the misses of
    /// `childIndex` overlap instead of following one another (see `LeafPageView`).
    @inline(__always)
    package func prefetchSearchArea() {
        prefetchLines(page, upTo: PageHeader.size + 8 * count)
    }

    /// The page number of child `i`, checked to lie below this page (which rules out cycles).
    @inline(__always)
    package func child(_ i: Int) throws -> PageNumber {
        let child = page.u64(PageHeader.size + 8 * count + 8 * i)
        guard child >= 1, child < number else {
            throw CowDBError.corruptPage(number, "child \(i) is page \(child), not below its parent", offset: PageHeader.size + 8 * count + 8 * i)
        }
        return child
    }

    /// Separator key `i` (empty for i = 0), a view into the page.
    @inline(__always)
    package func key(_ i: Int) throws -> UnsafeRawBufferPointer {
        let slot = PageHeader.size + 16 * count + 2 * i
        let cell = Int(page.u16(slot))
        guard cell >= PageHeader.size + 18 * count, cell + 2 <= page.count else {
            throw CowDBError.corruptPage(number, "branch cell \(i) offset \(cell) out of bounds", offset: slot)
        }
        let length = Int(page.u16(cell))
        guard cell + 2 + length <= page.count else {
            throw CowDBError.corruptPage(number, "branch key \(i) of \(length) bytes runs past the page", offset: cell)
        }
        return UnsafeRawBufferPointer(rebasing: page[cell + 2 ..< cell + 2 + length])
    }

    /// Index of the child whose range holds `key`: the last i ≥ 1 with separator ≤ key, else 0.
    ///
    /// As in `LeafPageView.lowerBound`: a search over heads alone, then full keys compared only
    /// among separators whose head equals `head` (indices stay below `count` < 65,536: no overflow).
    @inline(__always)
    package func childIndex(_ key: UnsafeRawBufferPointer, head: UInt64) throws -> Int {
        var low = 1, high = count
        while low < high {
            let mid = (low &+ high) &>> 1
            if self.head(mid) < head { low = mid &+ 1 } else { high = mid }
        }
        // `low` is the first separator whose head is ≥ `head`; all before it are below `key`.
        guard low < count, self.head(low) == head else { return low &- 1 }
        return try childIndexPastTie(key, head: head, from: low)
    }

    /// The rest of `childIndex` when separators from `from` on share `key`'s head: a binary
    /// search of `[from, count)` on full keys (separators with a greater head are greater).
    /// Out of line, so that the common path stays small enough to inline.
    @inline(never)
    package func childIndexPastTie(_ key: UnsafeRawBufferPointer, head: UInt64, from: Int) throws -> Int {
        var low = from, high = count
        while low < high {
            let mid = (low &+ high) &>> 1
            let lessOrEqual = self.head(mid) > head ? false : compareBytes(try self.key(mid), key) <= 0
            if lessOrEqual { low = mid &+ 1 } else { high = mid }
        }
        return low &- 1
    }
}
