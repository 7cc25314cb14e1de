// A leaf page: the entries of a B-tree in key order.
//
//   offset        size  field
//   0             16    page header (kind 2, count n)
//   16            8·n   heads: first 8 bytes of each key, zero-padded (big-endian order)
//   16 + 8n       2·n   cell offsets from the start of the page (u16 LE)
//   16 + 10n      …     cells, packed after the offsets, in key order:
//
//   cell:  0  2  keyLength
//          2  1  flags       bit 0: the value lives in an overflow run
//          3  4  valueLength
//          7  k  key bytes
//          7+k   inline: valueLength bytes; overflow: first page of the run (u64 LE)
//
// Binary search walks the contiguous heads array and reads a full key only when heads tie.
// This file is the one place that knows these bytes: the page encoder and the cell encoder
// (which the writer's in-memory `Node` uses, keeping its cells in this encoding), the cell
// field decoders (which `Node` and `LeafPageView` share), and the checked view of a page.
// The helpers are `@inlinable`: the B-tree calls them in its hottest loops, from another module.

/// The layout of a leaf page and of its cells: offsets, sizes, and the encoder and decoder of
/// each field.
@usableFromInline package enum LeafPage {
    // MARK: Page layout

    /// Bytes of a key head.
    @inlinable package static var headSize: Int { 8 }
    /// Bytes of a cell offset.
    @inlinable package static var cellOffsetSize: Int { 2 }
    /// Bytes each entry takes in the tables before the cells (its head and its cell offset).
    @inlinable package static var tableEntrySize: Int { headSize + cellOffsetSize }

    /// Offset of head `i`.
    @inlinable @inline(__always)
    package static func headOffset(_ i: Int) -> Int { PageHeader.size &+ headSize &* i }

    /// Offset of the cell offset of entry `i` in a page of `count` entries.
    @inlinable @inline(__always)
    package static func cellOffsetOffset(_ i: Int, count: Int) -> Int {
        PageHeader.size &+ headSize &* count &+ cellOffsetSize &* i
    }

    /// Offset where the cells of a page of `count` entries may start (the end of the tables).
    @inlinable @inline(__always)
    package static func cellsStart(count: Int) -> Int { PageHeader.size &+ tableEntrySize &* count }

    // MARK: Cell layout

    /// Offset of `keyLength` (u16) in a cell.
    @inlinable package static var keyLengthOffset: Int { 0 }
    /// Offset of `flags` (u8) in a cell.
    @inlinable package static var flagsOffset: Int { 2 }
    /// Offset of `valueLength` (u32) in a cell.
    @inlinable package static var valueLengthOffset: Int { 3 }
    /// Bytes of a cell before its key.
    @inlinable package static var cellHeaderSize: Int { 7 }
    /// The `flags` bit of a value stored in an overflow run.
    @inlinable package static var overflowFlag: UInt8 { 1 }
    /// Bytes of an overflow reference (the run's first page, u64).
    @inlinable package static var overflowReferenceSize: Int { 8 }

    /// Bytes an entry takes (head + offset + cell) when its value is inline.
    @inlinable @inline(__always)
    package static func entrySize(keyLength: Int, inlineValueLength: Int) -> Int {
        tableEntrySize + cellHeaderSize + keyLength + inlineValueLength
    }

    // MARK: Cell decoding (the caller has checked that the cell's bytes are there)

    /// The `keyLength` field of the cell at `cell`.
    @inlinable @inline(__always)
    package static func keyLength(ofCell cell: UnsafeRawPointer) -> Int {
        Int(UInt16(littleEndian: cell.loadUnaligned(fromByteOffset: keyLengthOffset, as: UInt16.self)))
    }

    /// Whether the cell's value lives in an overflow run (bit 0 of `flags`).
    @inlinable @inline(__always)
    package static func hasOverflowValue(cell: UnsafeRawPointer) -> Bool {
        cell.load(fromByteOffset: flagsOffset, as: UInt8.self) & overflowFlag != 0
    }

    /// The `valueLength` field of the cell: the value's length, inline or in its run.
    @inlinable @inline(__always)
    package static func valueLength(ofCell cell: UnsafeRawPointer) -> Int {
        Int(UInt32(littleEndian: cell.loadUnaligned(fromByteOffset: valueLengthOffset, as: UInt32.self)))
    }

    /// Bytes of the cell: header, key, and the inline value or the overflow reference.
    @inlinable @inline(__always)
    package static func cellSize(ofCell cell: UnsafeRawPointer) -> Int {
        let valueBytes = hasOverflowValue(cell: cell) ? overflowReferenceSize : valueLength(ofCell: cell)
        return cellHeaderSize &+ keyLength(ofCell: cell) &+ valueBytes
    }

    /// Bytes the entry whose cell is at `cell` takes in a page (tables and cell).
    @inlinable @inline(__always)
    package static func entrySize(ofCell cell: UnsafeRawPointer) -> Int { tableEntrySize &+ cellSize(ofCell: cell) }

    /// The key bytes of the cell (a view into the cell's memory).
    @inlinable @inline(__always)
    package static func key(ofCell cell: UnsafeRawPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: cell + cellHeaderSize, count: keyLength(ofCell: cell))
    }

    /// The stored value of the cell: inline bytes (a view into the cell's memory) or an overflow reference.
    @inlinable @inline(__always)
    package static func value(ofCell cell: UnsafeRawPointer) -> StoredValue {
        let start = cell + (cellHeaderSize &+ keyLength(ofCell: cell))
        let length = valueLength(ofCell: cell)
        if hasOverflowValue(cell: cell) {
            return .overflow(page: UInt64(littleEndian: start.loadUnaligned(as: UInt64.self)), length: length)
        }
        return .inline(UnsafeRawBufferPointer(start: start, count: length))
    }

    // MARK: Encoding

    /// Bytes of the cell holding a key of `keyLength` bytes and `value`.
    @inlinable @inline(__always)
    package static func cellSize(keyLength: Int, value: StoredValue) -> Int {
        switch value {
        case let .inline(bytes): cellHeaderSize + keyLength + bytes.count
        case .overflow: cellHeaderSize + keyLength + overflowReferenceSize
        }
    }

    /// Writes the cell of `key` and `value` at `cell`, which has room for `cellSize(keyLength:value:)`
    /// bytes (and must not overlap the key or the value).
    @inlinable @inline(__always)
    package static func writeCell(_ cell: UnsafeMutableRawPointer, key: UnsafeRawBufferPointer, value: StoredValue) {
        cell.storeBytes(of: UInt16(key.count).littleEndian, toByteOffset: keyLengthOffset, as: UInt16.self)
        if key.count > 0 { (cell + cellHeaderSize).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        let start = cell + cellHeaderSize + key.count
        switch value {
        case let .inline(bytes):
            cell.storeBytes(of: 0, toByteOffset: flagsOffset, as: UInt8.self)
            cell.storeBytes(of: UInt32(bytes.count).littleEndian, toByteOffset: valueLengthOffset, as: UInt32.self)
            if bytes.count > 0 { start.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        case let .overflow(page, length):
            cell.storeBytes(of: overflowFlag, toByteOffset: flagsOffset, as: UInt8.self)
            cell.storeBytes(of: UInt32(length).littleEndian, toByteOffset: valueLengthOffset, as: UInt32.self)
            start.storeBytes(of: page.littleEndian, as: UInt64.self)
        }
    }

    /// Writes a leaf page of `count` entries into `page` (zeroed by the caller; the entries must
    /// fit): the header, then for each entry in key order its head and its cell, already encoded
    /// (`entry(i)`), packed after the tables. Not sealed.
    @inlinable
    package static func encode(into page: UnsafeMutableRawBufferPointer, count: Int,
                               entry: (Int) -> (head: UInt64, cell: UnsafeRawBufferPointer)) {
        PageHeader.write(page, kind: .leaf, count: count, runLength: 1)
        var at = cellsStart(count: count)
        for i in 0 ..< count {
            let (head, cell) = entry(i)
            page.setHead(head, headOffset(i))
            page.setU16(UInt16(at), cellOffsetOffset(i, count: count))
            page.setBytes(cell, at)
            at += cell.count
        }
    }
}

/// A read-only view of a leaf page in mapped memory. Every offset and length read from the
/// page is checked against the page before use; violations throw `corrupt`.
@usableFromInline package struct LeafPageView {
    @usableFromInline package let page: UnsafeRawBufferPointer
    @usableFromInline package let number: PageNumber
    @usableFromInline package let count: Int

    /// Checks the header fields that every access relies on (inlined into every descent;
    /// the error is built out of line).
    @inlinable @inline(__always)
    package init(_ page: UnsafeRawBufferPointer, number: PageNumber) throws {
        let n = Int(page.u16(PageHeader.countOffset))
        guard page.u8(PageHeader.kindOffset) == PageKind.leaf.rawValue, page.u32(PageHeader.runLengthOffset) == 1,
              LeafPage.cellsStart(count: n) <= page.count
        else { throw Self.headerError(page, number: number) }
        self.page = page
        self.number = number
        self.count = n
    }

    /// The error for a page whose header `init` refused.
    @inline(never)
    @usableFromInline package static func headerError(_ page: UnsafeRawBufferPointer, number: PageNumber) -> CowDBError {
        PageHeader.singlePageError(page, number: number, expected: .leaf, countProblem: "does not fit the page")
    }

    /// The cell of entry `i`, checked to lie inside the page with its key and its inline value
    /// or overflow reference.
    @inlinable @inline(__always)
    package func cell(_ i: Int) throws -> UnsafeRawPointer {
        let offset = Int(page.u16(LeafPage.cellOffsetOffset(i, count: count)))
        guard offset >= LeafPage.cellsStart(count: count), offset &+ LeafPage.cellHeaderSize <= page.count else {
            throw cellError(i, offset: offset)
        }
        let cell = page.baseAddress.unsafelyUnwrapped + offset
        guard offset &+ LeafPage.cellSize(ofCell: cell) <= page.count else { throw cellError(i, offset: offset) }
        return cell
    }

    /// The error for cell `i` at `offset`, which `cell(_:)` refused: what of it lies outside the page.
    @inline(never)
    @usableFromInline package func cellError(_ i: Int, offset: Int) -> CowDBError {
        guard offset >= LeafPage.cellsStart(count: count), offset + LeafPage.cellHeaderSize <= page.count else {
            return CowDBError.corruptPage(number, "leaf cell \(i) offset \(offset) out of bounds", offset: LeafPage.cellOffsetOffset(i, count: count))
        }
        let cell = page.baseAddress! + offset
        let keyLength = LeafPage.keyLength(ofCell: cell)
        if offset + LeafPage.cellHeaderSize + keyLength > page.count {
            return CowDBError.corruptPage(number, "leaf key \(i) of \(keyLength) bytes runs past the page", offset: offset)
        }
        if LeafPage.hasOverflowValue(cell: cell) {
            return CowDBError.corruptPage(number, "leaf overflow reference \(i) runs past the page", offset: offset)
        }
        return CowDBError.corruptPage(number, "leaf value \(i) of \(LeafPage.valueLength(ofCell: cell)) bytes runs past the page", offset: offset)
    }

    /// The head of entry `i`.
    @inlinable @inline(__always)
    package func head(_ i: Int) -> UInt64 { page.head(LeafPage.headOffset(i)) }

    /// Starts loading every cache line `lowerBound` may read before the cell it ends at (the
    /// heads and the cell offsets), all at once: their misses then overlap instead of
    /// following one another down the binary search. The first line, which holds the page
    /// header, is loaded already.
    @inlinable @inline(__always)
    package func prefetchSearchArea() {
        prefetchLines(page, upTo: LeafPage.cellsStart(count: count))
    }

    /// The key bytes of entry `i` (a view into the page).
    @inlinable @inline(__always)
    package func key(_ i: Int) throws -> UnsafeRawBufferPointer { LeafPage.key(ofCell: try cell(i)) }

    /// The stored value of entry `i`: inline bytes (a view into the page) or an overflow reference.
    @inlinable @inline(__always)
    package func value(_ i: Int) throws -> StoredValue { LeafPage.value(ofCell: try cell(i)) }

    /// The key and stored value of entry `i` (one cell lookup for both).
    @inlinable @inline(__always)
    package func entry(_ i: Int) throws -> (key: UnsafeRawBufferPointer, value: StoredValue) {
        let cell = try cell(i)
        return (LeafPage.key(ofCell: cell), LeafPage.value(ofCell: cell))
    }

    /// Bytes the page's header and entries take (what `Node.size` would be).
    package func storedSize() throws -> Int {
        var size = PageHeader.size
        for i in 0 ..< count { size += LeafPage.entrySize(ofCell: try cell(i)) }
        return size
    }

    /// First index whose key is ≥ `key`, and whether it is equal.
    ///
    /// Heads order keys by their first 8 bytes, so a search over heads alone finds the first
    /// entry whose head is ≥ `head`; full keys are compared only among the entries whose head
    /// equals it. (Indices stay below `count` < 65,536, so the index arithmetic cannot
    /// overflow and wraps unchecked.)
    @inlinable @inline(__always)
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
    @usableFromInline package func lowerBoundPastTie(_ key: UnsafeRawBufferPointer, head: UInt64, from: Int) throws -> (index: Int, found: Bool) {
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
@usableFromInline package enum StoredValue {
    case inline(UnsafeRawBufferPointer)
    case overflow(page: PageNumber, length: Int)
}
