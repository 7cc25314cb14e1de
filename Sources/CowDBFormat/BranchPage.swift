// A branch page: separator keys and child page numbers.
//
//   offset        size  field
//   0             16    page header (kind 1, count n ≥ 1)
//   16            8·n   heads: first 8 bytes of each separator, zero-padded
//   16 + 8n       8·n   child page numbers (u64 LE); child i holds keys in [sep i, sep i+1)
//   16 + 16n      2·n   cell offsets from the start of the page (u16 LE)
//   16 + 18n      …     cells, packed after the offsets:  keyLength u16 | key bytes
//
// Separator 0 is empty and stands for "everything below separator 1". Every child's page
// number is below its parent's: pages are only appended, children before parents.
// As for leaves (see LeafPage.swift), this file is the one place that knows these bytes: the
// page and cell encoders (which the writer's `Node` uses), the cell decoders (which `Node` and
// `BranchPageView` share), and the checked view; `@inlinable`, for the B-tree's hot loops.

/// The layout of a branch page and of its cells: offsets, sizes, and the encoder and decoder of
/// each field.
@usableFromInline package enum BranchPage {
    // MARK: Page layout

    /// Bytes of a separator head, of a child page number, and of a cell offset.
    @inlinable package static var headSize: Int { 8 }
    @inlinable package static var childSize: Int { 8 }
    @inlinable package static var cellOffsetSize: Int { 2 }
    /// Bytes each entry takes in the tables before the cells (head, child, cell offset).
    @inlinable package static var tableEntrySize: Int { headSize + childSize + cellOffsetSize }

    /// Offset of head `i`.
    @inlinable @inline(__always)
    package static func headOffset(_ i: Int) -> Int { PageHeader.size &+ headSize &* i }

    /// Offset of the page number of child `i` in a page of `count` entries.
    @inlinable @inline(__always)
    package static func childOffset(_ i: Int, count: Int) -> Int { PageHeader.size &+ headSize &* count &+ childSize &* i }

    /// Offset of the cell offset of entry `i` in a page of `count` entries.
    @inlinable @inline(__always)
    package static func cellOffsetOffset(_ i: Int, count: Int) -> Int {
        PageHeader.size &+ (headSize &+ childSize) &* count &+ cellOffsetSize &* i
    }

    /// Offset where the cells of a page of `count` entries may start (the end of the tables).
    @inlinable @inline(__always)
    package static func cellsStart(count: Int) -> Int { PageHeader.size &+ tableEntrySize &* count }

    // MARK: Cells

    /// Offset of `keyLength` (u16) in a cell, and the bytes of a cell before its key.
    @inlinable package static var keyLengthOffset: Int { 0 }
    @inlinable package static var cellHeaderSize: Int { 2 }

    /// Bytes an entry takes (head + child + offset + cell).
    @inlinable @inline(__always)
    package static func entrySize(keyLength: Int) -> Int { tableEntrySize + cellHeaderSize + keyLength }

    /// The `keyLength` field of the cell at `cell` (whose header the caller has checked is there).
    @inlinable @inline(__always)
    package static func keyLength(ofCell cell: UnsafeRawPointer) -> Int {
        Int(UInt16(littleEndian: cell.loadUnaligned(fromByteOffset: keyLengthOffset, as: UInt16.self)))
    }

    /// Bytes of the cell at `cell`.
    @inlinable @inline(__always)
    package static func cellSize(ofCell cell: UnsafeRawPointer) -> Int { cellHeaderSize &+ keyLength(ofCell: cell) }

    /// Bytes the entry whose cell is at `cell` takes in a page (tables and cell).
    @inlinable @inline(__always)
    package static func entrySize(ofCell cell: UnsafeRawPointer) -> Int { tableEntrySize &+ cellSize(ofCell: cell) }

    /// The separator bytes of the cell (a view into the cell's memory; the caller has checked they are there).
    @inlinable @inline(__always)
    package static func key(ofCell cell: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: cell + cellHeaderSize, count: keyLength(ofCell: cell))
    }

    /// Writes the cell of separator `key` at `cell`, which has room for `cellHeaderSize + key.count`
    /// bytes (and must not overlap the key).
    @inlinable @inline(__always)
    package static func writeCell(_ cell: UnsafeMutableRawPointer, key: UnsafeRawBufferPointer) {
        cell.storeBytes(of: UInt16(key.count).littleEndian, toByteOffset: keyLengthOffset, as: UInt16.self)
        if key.count > 0 { (cell + cellHeaderSize).copyMemory(from: key.baseAddress!, byteCount: key.count) }
    }

    /// Writes a branch page of `count` entries into `page` (zeroed by the caller; the entries must
    /// fit): the header, then for each entry its head, its child's page number and its cell,
    /// already encoded (`entry(i)`), packed after the tables. Not sealed.
    @inlinable
    package static func encode(into page: UnsafeMutableRawBufferPointer, count: Int,
                               entry: (Int) -> (head: UInt64, child: PageNumber, cell: UnsafeRawBufferPointer)) {
        PageHeader.write(page, kind: .branch, count: count, runLength: 1)
        var at = cellsStart(count: count)
        for i in 0 ..< count {
            let (head, child, cell) = entry(i)
            page.setHead(head, headOffset(i))
            page.setU64(child, childOffset(i, count: count))
            page.setU16(UInt16(at), cellOffsetOffset(i, count: count))
            page.setBytes(cell, at)
            at += cell.count
        }
    }
}

/// A read-only view of a branch page in mapped memory, bounds-checked like `LeafPageView`.
@usableFromInline package struct BranchPageView {
    @usableFromInline package let page: UnsafeRawBufferPointer
    @usableFromInline package let number: PageNumber
    @usableFromInline package let count: Int

    /// Checks the header fields that every access relies on (inlined into every descent;
    /// the error is built out of line).
    @inlinable @inline(__always)
    package init(_ page: UnsafeRawBufferPointer, number: PageNumber) throws {
        let n = Int(page.u16(PageHeader.countOffset))
        guard page.u8(PageHeader.kindOffset) == PageKind.branch.rawValue, page.u32(PageHeader.runLengthOffset) == 1,
              n >= 1, BranchPage.cellsStart(count: n) <= page.count
        else { throw Self.headerError(page, number: number) }
        self.page = page
        self.number = number
        self.count = n
    }

    /// The error for a page whose header `init` refused.
    @inline(never)
    @usableFromInline package static func headerError(_ page: UnsafeRawBufferPointer, number: PageNumber) -> CowDBError {
        PageHeader.singlePageError(page, number: number, expected: .branch, countProblem: "is zero or does not fit the page")
    }

    /// The head of separator `i`.
    @inlinable @inline(__always)
    package func head(_ i: Int) -> UInt64 { page.head(BranchPage.headOffset(i)) }

    /// Starts loading every cache line of the heads at once, so that the misses of
    /// `childIndex` overlap instead of following one another (see `LeafPageView`).
    @inlinable @inline(__always)
    package func prefetchSearchArea() {
        prefetchLines(page, upTo: BranchPage.childOffset(0, count: count))
    }

    /// The page number of child `i`, checked to lie below this page (which rules out cycles).
    @inlinable @inline(__always)
    package func child(_ i: Int) throws -> PageNumber {
        let child = page.u64(BranchPage.childOffset(i, count: count))
        guard child >= 1, child < number else { throw childError(i, child) }
        return child
    }

    /// The error for child `i`, which `child(_:)` refused.
    @inline(never)
    @usableFromInline package func childError(_ i: Int, _ child: PageNumber) -> CowDBError {
        CowDBError.corruptPage(number, "child \(i) is page \(child), not below its parent", offset: BranchPage.childOffset(i, count: count))
    }

    /// Separator key `i` (empty for i = 0), a view into the page.
    @inlinable @inline(__always)
    package func key(_ i: Int) throws -> UnsafeRawBufferPointer {
        let offset = Int(page.u16(BranchPage.cellOffsetOffset(i, count: count)))
        guard offset >= BranchPage.cellsStart(count: count), offset &+ BranchPage.cellHeaderSize <= page.count else {
            throw cellError(i, offset: offset)
        }
        let cell = page.baseAddress.unsafelyUnwrapped + offset
        guard offset &+ BranchPage.cellSize(ofCell: cell) <= page.count else { throw cellError(i, offset: offset) }
        return BranchPage.key(ofCell: cell)
    }

    /// The error for cell `i` at `offset`, which `key(_:)` refused.
    @inline(never)
    @usableFromInline package func cellError(_ i: Int, offset: Int) -> CowDBError {
        guard offset >= BranchPage.cellsStart(count: count), offset + BranchPage.cellHeaderSize <= page.count else {
            return CowDBError.corruptPage(number, "branch cell \(i) offset \(offset) out of bounds", offset: BranchPage.cellOffsetOffset(i, count: count))
        }
        let length = BranchPage.keyLength(ofCell: page.baseAddress! + offset)
        return CowDBError.corruptPage(number, "branch key \(i) of \(length) bytes runs past the page", offset: offset)
    }

    /// Index of the child whose range holds `key`: the last i ≥ 1 with separator ≤ key, else 0.
    ///
    /// As in `LeafPageView.lowerBound`: a search over heads alone, then full keys compared only
    /// among separators whose head equals `head` (indices stay below `count` < 65,536: no overflow).
    @inlinable @inline(__always)
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
    @usableFromInline package func childIndexPastTie(_ key: UnsafeRawBufferPointer, head: UInt64, from: Int) throws -> Int {
        var low = from, high = count
        while low < high {
            let mid = (low &+ high) &>> 1
            let lessOrEqual = self.head(mid) > head ? false : compareBytes(try self.key(mid), key) <= 0
            if lessOrEqual { low = mid &+ 1 } else { high = mid }
        }
        return low &- 1
    }
}
