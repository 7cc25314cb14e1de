import CowDBFormat
import CowDBStorage
// An in-memory node of a B-tree being changed by a write transaction (bbolt's `node`). A write
// transaction copies each page it changes into a Node once, changes it in memory, and writes
// it back once, at commit (or earlier, when the dirty budget spills it).
//
// A node keeps its entries the way the page does, so loading and writing are copies:
//
//   heads   [UInt64] × capacity   head of each key (native order), in key order
//   cells   [UInt32] × capacity   offset of each entry's cell in the arena, in key order
//   arena   bytes                 cells in the page's cell encoding, in the order they were
//                                 added; a replaced or removed cell is garbage until the
//                                 arena is compacted (when it would otherwise grow)
//
//   leaf cell:    keyLength u16 | flags u8 | valueLength u32 | key | value or run page (u64 LE)
//   branch cell:  keyLength u16 | key
//
// The node knows no byte of a cell itself: it reads and writes cells through LeafPage and
// BranchPage (CowDBFormat), as the page views do, and writes pages through them (Node+Pages.swift).
//
// The three live in one allocation per node (none per entry): an insert is a binary search
// over the heads, two `memmove`s of the tables and one cell copy; writing a page is a
// `memcpy` per cell.

/// A reference to a child: a written page, or a node changed in this transaction.
package enum NodeRef {
    case page(PageNumber)
    case node(Node)
}

/// A B-tree node being changed.
///
/// Its mutable properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// they are reached only by the write transaction's own code, one access at a time, and the
/// checks (a `swift_beginAccess` per property access) cost about a fifth of a bulk load.
package final class Node {
    /// Leaf (keys → values) or branch (separators → children).
    package let isLeaf: Bool
    /// Entries in the node.
    @exclusivity(unchecked) package private(set) var count = 0
    /// Bytes the node takes when written (header + entries).
    @exclusivity(unchecked) package private(set) var size = PageHeader.size
    /// Branch children, parallel to the entries (separator 0 is empty and stands for
    /// "everything below separator 1"); empty for leaves.
    @exclusivity(unchecked) package var children: [NodeRef] = []
    /// A page this transaction wrote for this node earlier (spill), which it may overwrite; 0 if none.
    @exclusivity(unchecked) package var reusablePage: PageNumber = 0

    /// The one allocation holding heads, cells and arena.
    @exclusivity(unchecked) private var block: UnsafeMutableRawPointer
    @exclusivity(unchecked) var heads: UnsafeMutablePointer<UInt64>
    @exclusivity(unchecked) private var cells: UnsafeMutablePointer<UInt32>
    @exclusivity(unchecked) private var capacity: Int
    @exclusivity(unchecked) private var arena: UnsafeMutableRawPointer
    @exclusivity(unchecked) private var arenaCapacity: Int
    @exclusivity(unchecked) private var arenaUsed = 0
    /// Bytes of the arena held by replaced or removed cells.
    @exclusivity(unchecked) private var garbage = 0

    /// An empty node with room for `capacity` entries and `arenaCapacity` bytes of cells
    /// (both grow on demand; a page's worth avoids growing).
    package init(isLeaf: Bool, capacity: Int = 16, arenaCapacity: Int) {
        self.isLeaf = isLeaf
        self.capacity = (max(capacity, 4) + 1) & ~1 // even, so the arena starts 8-byte aligned
        self.arenaCapacity = max(arenaCapacity, 64)
        (block, heads, cells, arena) = Self.allocate(capacity: self.capacity, arenaCapacity: self.arenaCapacity)
    }

    deinit { block.deallocate() }

    /// A block for `capacity` entries (even) and `arenaCapacity` bytes of cells, carved up.
    private static func allocate(capacity: Int, arenaCapacity: Int)
        -> (UnsafeMutableRawPointer, UnsafeMutablePointer<UInt64>, UnsafeMutablePointer<UInt32>, UnsafeMutableRawPointer) {
        let block = UnsafeMutableRawPointer.allocate(byteCount: 12 * capacity + arenaCapacity, alignment: 8)
        let heads = block.bindMemory(to: UInt64.self, capacity: capacity)
        let cells = (block + 8 * capacity).bindMemory(to: UInt32.self, capacity: capacity)
        return (block, heads, cells, block + 12 * capacity)
    }

    // MARK: Entries

    /// The bytes of the cell of entry `i`.
    @inline(__always)
    func cell(_ i: Int) -> UnsafeMutableRawPointer { arena + Int(cells[i]) }

    /// Key `i` (a view into the node, valid until the node changes).
    @inline(__always)
    package func key(_ i: Int) -> UnsafeRawBufferPointer {
        isLeaf ? LeafPage.key(ofCell: cell(i)) : BranchPage.key(ofCell: cell(i))
    }

    /// The value of leaf entry `i` (inline bytes are a view into the node, valid until it changes).
    @inline(__always)
    package func value(_ i: Int) -> StoredValue { LeafPage.value(ofCell: cell(i)) }

    /// Bytes of the cell of entry `i`.
    @inline(__always)
    func cellSize(_ i: Int) -> Int {
        isLeaf ? LeafPage.cellSize(ofCell: cell(i)) : BranchPage.cellSize(ofCell: cell(i))
    }

    /// Bytes entry `i` takes in the page (head, slot fields and cell).
    @inline(__always)
    package func entrySize(_ i: Int) -> Int {
        isLeaf ? LeafPage.entrySize(ofCell: cell(i)) : BranchPage.entrySize(ofCell: cell(i))
    }

    /// Whether a leaf points to an overflow run at or above `page` (readers check that a
    /// leaf's runs precede it, so such a leaf cannot be rewritten at `page`).
    package func hasOverflow(atOrAbove page: PageNumber) -> Bool {
        for i in 0 ..< count {
            if case let .overflow(first, _) = value(i), first >= page { return true }
        }
        return false
    }

    // MARK: Search

    /// First index whose key is ≥ `key` (leaves), and whether it is equal.
    @inline(__always)
    package func lowerBound(_ key: UnsafeRawBufferPointer) -> (index: Int, found: Bool) {
        // Heads (first 8 bytes as a number) decide most comparisons without a `memcmp` call.
        let head = keyHead(key)
        var low = 0, high = count
        while low < high {
            let mid = (low + high) >> 1
            let other = heads[mid]
            let order = other == head ? compareBytes(self.key(mid), key) : (other < head ? -1 : 1)
            if order < 0 { low = mid + 1 } else if order > 0 { high = mid } else { return (mid, true) }
        }
        return (low, false)
    }

    /// Index of the child whose range holds `key` (branches).
    @inline(__always)
    package func childIndex(_ key: UnsafeRawBufferPointer) -> Int {
        let head = keyHead(key) // as in lowerBound
        var low = 1, high = count
        while low < high {
            let mid = (low + high) >> 1
            let other = heads[mid]
            let lessOrEqual = other == head ? compareBytes(self.key(mid), key) <= 0 : other < head
            if lessOrEqual { low = mid + 1 } else { high = mid }
        }
        return low - 1
    }

    // MARK: Changes
    //
    // Bytes passed in must not point into this node's own arena (adding a cell may move it).

    /// Inserts a leaf entry at `index`.
    package func insert(at index: Int, key: UnsafeRawBufferPointer, value: StoredValue) {
        reserveEntry()
        let cell = writeLeafCell(key: key, value: value)
        makeRoom(at: index)
        cells[index] = cell
        heads[index] = keyHead(key)
        size += entrySize(index)
    }

    /// Replaces the value of leaf entry `index` (whose key is `key`).
    package func replaceValue(at index: Int, key: UnsafeRawBufferPointer, value: StoredValue) {
        let old = entrySize(index)
        if case let .inline(bytes) = value, case let .inline(current) = self.value(index), current.count == bytes.count {
            if bytes.count > 0 { UnsafeMutableRawPointer(mutating: current.baseAddress!).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            return
        }
        let oldCell = cellSize(index)
        let cell = writeLeafCell(key: key, value: value) // (first: writing may move the tables)
        cells[index] = cell // the key, and so the head, stay
        garbage += oldCell
        size += entrySize(index) - old
    }

    /// Inserts a branch entry at `index`.
    package func insert(at index: Int, key: UnsafeRawBufferPointer, child: NodeRef) {
        reserveEntry()
        let cell = writeBranchCell(key: key)
        makeRoom(at: index)
        cells[index] = cell
        heads[index] = keyHead(key)
        children.insert(child, at: index)
        size += entrySize(index)
    }

    /// Replaces separator `index` of a branch.
    package func setSeparator(_ index: Int, _ key: UnsafeRawBufferPointer) {
        let oldCell = cellSize(index)
        let cell = writeBranchCell(key: key) // (first: writing may move the tables)
        cells[index] = cell
        heads[index] = keyHead(key)
        garbage += oldCell
        size += cellSize(index) - oldCell
    }

    /// Removes entry `index` (and its child); a branch's new entry 0 loses its separator.
    package func remove(at index: Int) {
        size -= entrySize(index)
        garbage += cellSize(index)
        (heads + index).update(from: heads + index + 1, count: count - index - 1)
        (cells + index).update(from: cells + index + 1, count: count - index - 1)
        count -= 1
        if !isLeaf {
            children.remove(at: index)
            if index == 0, count > 0 { setSeparator(0, UnsafeRawBufferPointer(start: nil, count: 0)) }
        }
    }

    /// Moves entries [at, count) to a new node of the same kind; returns the separator between
    /// the two (for leaves the shortest prefix of the right node's first key above the left
    /// node's last key; for branches the moved first separator, which the new node drops).
    package func cut(at index: Int) -> (separator: [UInt8], right: Node) {
        let right = Node(isLeaf: isLeaf, capacity: count - index + 8, arenaCapacity: arenaCapacity)
        let separator: [UInt8]
        if isLeaf {
            for i in index ..< count { right.appendCopy(of: self, entry: i, key: key(i)) }
            separator = Self.shortestSeparator(after: key(index - 1), upTo: key(index))
        } else {
            separator = Array(key(index))
            right.appendCopy(of: self, entry: index, key: UnsafeRawBufferPointer(start: nil, count: 0))
            for i in index + 1 ..< count { right.appendCopy(of: self, entry: i, key: key(i)) }
            right.children = Array(children[index...])
            children.removeSubrange(index...)
        }
        for i in index ..< count { garbage += cellSize(i) }
        size -= right.size - PageHeader.size + (isLeaf ? 0 : separator.count)
        count = index
        compact()
        return (separator, right)
    }

    /// Moves all entries of `right` (this node's right neighbour) onto the end of this node;
    /// for branches `separator` becomes the key of right's first child.
    package func append(_ right: Node, separator: UnsafeRawBufferPointer) {
        precondition(isLeaf == right.isLeaf, "CowDB: appending a node of the other kind")
        for i in 0 ..< right.count {
            appendCopy(of: right, entry: i, key: !isLeaf && i == 0 ? separator : right.key(i))
        }
        if !isLeaf { children += right.children }
    }

    /// The shortest prefix of `upper` that is greater than `lower` (suffix truncation).
    package static func shortestSeparator(after lower: UnsafeRawBufferPointer, upTo upper: UnsafeRawBufferPointer) -> [UInt8] {
        var common = 0
        while common < lower.count, common < upper.count, lower[common] == upper[common] { common += 1 }
        return Array(upper[0 ..< min(upper.count, common + 1)])
    }

    // MARK: Storage

    /// Makes room in the tables for one more entry (before its cell is written: growing
    /// moves only the cells the tables name).
    @inline(__always)
    private func reserveEntry() {
        if count == capacity { reallocate(capacity: capacity * 2, arenaCapacity: arenaCapacity) }
    }

    /// Opens a gap in the tables at `index` (after `reserveEntry`).
    @inline(__always)
    private func makeRoom(at index: Int) {
        (heads + index + 1).update(from: heads + index, count: count - index)
        (cells + index + 1).update(from: cells + index, count: count - index)
        count += 1
    }

    /// Reserves `bytes` at the end of the arena; returns their offset. Compacts the arena
    /// when garbage would make room, else grows it.
    @inline(__always)
    private func reserve(_ bytes: Int) -> Int {
        if arenaUsed + bytes > arenaCapacity {
            if garbage >= bytes { compact() }
            if arenaUsed + bytes > arenaCapacity { reallocate(capacity: capacity, arenaCapacity: max(arenaCapacity * 2, arenaUsed + bytes)) }
        }
        let offset = arenaUsed
        arenaUsed += bytes
        return offset
    }

    /// Copies the live cells, in entry order, into a fresh arena without garbage.
    private func compact() {
        guard garbage > 0 else { return }
        reallocate(capacity: capacity, arenaCapacity: arenaCapacity)
    }

    /// Moves everything into a new block of the given capacities (which must hold it).
    private func reallocate(capacity newCapacity: Int, arenaCapacity newArenaCapacity: Int) {
        let (newBlock, newHeads, newCells, newArena) = Self.allocate(capacity: newCapacity, arenaCapacity: newArenaCapacity)
        newHeads.update(from: heads, count: count)
        var used = 0
        for i in 0 ..< count {
            let size = cellSize(i)
            (newArena + used).copyMemory(from: cell(i), byteCount: size)
            newCells[i] = UInt32(used)
            used += size
        }
        block.deallocate()
        (block, heads, cells, arena) = (newBlock, newHeads, newCells, newArena)
        capacity = newCapacity
        arenaCapacity = newArenaCapacity
        arenaUsed = used
        garbage = 0
    }

    /// Writes a new leaf cell into the arena; returns its offset. (Reserving may move the
    /// arena, so every table entry must name a live cell while this runs.)
    @inline(__always)
    func writeLeafCell(key: UnsafeRawBufferPointer, value: StoredValue) -> UInt32 {
        let offset = reserve(LeafPage.cellSize(keyLength: key.count, value: value))
        LeafPage.writeCell(arena + offset, key: key, value: value)
        return UInt32(offset)
    }

    /// Writes a new branch cell into the arena; returns its offset (as `writeLeafCell`).
    @inline(__always)
    func writeBranchCell(key: UnsafeRawBufferPointer) -> UInt32 {
        let offset = reserve(BranchPage.cellHeaderSize + key.count)
        BranchPage.writeCell(arena + offset, key: key)
        return UInt32(offset)
    }

    /// Appends an entry whose cell was just written, while loading (the tables were sized
    /// for the page's entries, so nothing moves).
    @inline(__always)
    func appendLoaded(cell: UInt32, key: UnsafeRawBufferPointer) {
        precondition(count < capacity)
        cells[count] = cell
        heads[count] = keyHead(key)
        count += 1
        size += entrySize(count - 1)
    }

    /// Appends a copy of `other`'s entry `i` (for branches, with `key` as its separator).
    private func appendCopy(of other: Node, entry i: Int, key: UnsafeRawBufferPointer) {
        if isLeaf {
            insert(at: count, key: key, value: other.value(i))
        } else {
            reserveEntry()
            let cell = writeBranchCell(key: key)
            makeRoom(at: count)
            cells[count - 1] = cell
            heads[count - 1] = keyHead(key)
            size += entrySize(count - 1)
        }
    }
}
