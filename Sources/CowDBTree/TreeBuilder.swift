import CowDBFormat
import CowDBStorage
// Building a B-tree bottom-up from entries in strictly increasing key order — a bulk load
// without inserts, splits or rebalancing (compaction's copy of a whole version; later, the
// packing writer's history tree).
//
// One node is open per level. An entry goes into the open leaf; when it would take the leaf
// past the fill target, the leaf is written through the sink at once and its page becomes the
// next child of the open branch one level up (which is written the same way when it is full),
// and a new leaf starts with the entry. So every page is written once, as soon as it is full,
// and every child is written before its parent: a child's page number is always below its
// parent's, as the readers and the checker require. `finish` closes the open node of each
// level from the bottom; the top one is the root. Every page but the last two of its level
// is full (the one before the last gives up a child when the last branch would have one); the
// last one holds what is left (a leaf may hold one entry; a branch always has at
// least two children, borrowing one from its full left neighbour when needed).
//
// Fill target: 15/16 of a page, what `TreeMutator.pack` leaves after a transaction that
// changed neighbouring leaves (a bulk load, a mass delete). The same target means a built tree
// and a packed one are the same tree afterwards: a random insert into a built leaf fits in the
// sixteenth left free (about one 190-byte pair per 4 KiB leaf) instead of splitting a page
// full to the byte, and the first splits of a built tree come as late as they do in a packed
// one. It costs at most 1/15 more pages than filling to the byte. Branches are filled to the
// same target for the same reason (a leaf split adds a separator to its parent).
//
// Separators are the engine's suffix-truncated ones (`Node.shortestSeparator`, the same
// function a leaf split uses): the shortest prefix of the next leaf's first key above the
// previous leaf's last key. A branch that fills up hands the separator of its next child to
// the level above unchanged, as a branch split promotes one.
//
// A packed history tree (`history: true`) is never inserted into, so its pages are filled to
// the byte, and its entries may be up to half a page (`PageLayout.historyMaxEntrySize`: its
// composite keys are longer than user keys); two entries always fit a page.
//
// Pages are encoded by `Node.encode` (LeafPage's and BranchPage's encoders): the builder
// writes no byte layout of its own. A value too large for its leaf is written as an overflow
// run as soon as it arrives, so the run precedes the leaf that names it.

/// Builds a B-tree from entries given in strictly increasing key order, appending each page
/// through `sink` as soon as it is full.
package final class TreeBuilder {
    /// Where pages go.
    package let sink: any PageSink
    package let layout: PageLayout
    /// Bytes a page is filled to (header included) before the next entry starts a new page.
    package let fillTarget: Int
    /// The open node of each level (0: the leaves), with the separator its parent will hold
    /// for it (nil: the first node of its level, the parent's child 0). Reached only by this
    /// builder's own methods, one at a time: no dynamic exclusivity checks (as `Node`).
    @exclusivity(unchecked) private var levels: [(node: Node, separator: [UInt8]?)]
    /// Entries added.
    @exclusivity(unchecked) package private(set) var count: UInt64 = 0
    /// Pages written for the tree (leaves and branches; not overflow runs).
    package private(set) var pagesWritten = 0

    /// The fill target of a page of `layout` (what `TreeMutator.pack` aims for): 15/16.
    package static func fillTarget(_ layout: PageLayout) -> Int { layout.pageSize - layout.pageSize / 16 }

    /// The longest key and the largest entry (slot and cell) the tree may hold.
    package let maxKeySize: Int
    package let maxEntrySize: Int

    /// A builder writing through `sink`; `history`: a packed history tree's limits and fill.
    package init(sink: any PageSink, history: Bool = false) {
        self.sink = sink
        self.layout = sink.layout
        self.fillTarget = history ? sink.layout.pageSize : Self.fillTarget(sink.layout)
        maxKeySize = history ? sink.layout.historyMaxKeySize : sink.layout.maxKeySize
        maxEntrySize = history ? sink.layout.historyMaxEntrySize : sink.layout.maxEntrySize
        levels = [(Node(isLeaf: true, arenaCapacity: sink.layout.pageSize), nil)]
    }

    /// Whether `key` may come next: greater than the last key added.
    package func follows(_ key: UnsafeRawBufferPointer) -> Bool {
        let leaf = levels[0].node
        return leaf.count == 0 || compareBytes(leaf.key(leaf.count - 1), key) < 0
    }

    /// Adds `key` → `value`; a value too large for the leaf is written as an overflow run now.
    /// Keys must be strictly increasing, 1 to `maxKeySize` bytes (a precondition).
    package func add(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws {
        precondition(value.count <= PageLayout.maxValueSize, "TreeBuilder: value larger than the maximum")
        if LeafPage.entrySize(keyLength: key.count, inlineValueLength: value.count) <= maxEntrySize {
            return try add(key, stored: .inline(value))
        }
        precondition(follows(key), "TreeBuilder: keys must be strictly increasing")
        let runLength = layout.overflowRunLength(valueLength: value.count)
        let run = try sink.append(runLength: runLength) { OverflowPage.encode(value: value, runLength: runLength, into: $0) }
        try add(key, stored: .overflow(page: run, length: value.count))
    }

    /// Adds `key` → `stored`: inline bytes that fit a leaf entry, or an overflow run already
    /// written through the sink (so before the leaf). Keys must be strictly increasing.
    package func add(_ key: UnsafeRawBufferPointer, stored: StoredValue) throws {
        precondition(key.count > 0 && key.count <= maxKeySize, "TreeBuilder: key length \(key.count) out of range")
        let entrySize = LeafPage.tableEntrySize + LeafPage.cellSize(keyLength: key.count, value: stored)
        precondition(entrySize <= maxEntrySize, "TreeBuilder: an inline value too large for a leaf")
        var leaf = levels[0].node
        if leaf.count > 0 {
            precondition(compareBytes(leaf.key(leaf.count - 1), key) < 0, "TreeBuilder: keys must be strictly increasing")
            if leaf.size + entrySize > fillTarget {
                try close(level: 0, nextSeparator: Node.shortestSeparator(after: leaf.key(leaf.count - 1), upTo: key))
                leaf = levels[0].node
            }
        }
        leaf.insert(at: leaf.count, key: key, value: stored)
        count += 1
    }

    /// Closes every open node from the leaves up; returns the root page (0: no entries) and
    /// the number of entries. The builder is spent afterwards.
    package func finish() throws -> (root: PageNumber, count: UInt64) {
        guard count > 0 else { return (0, 0) }
        var level = 0
        while level < levels.count - 1 {
            try close(level: level, nextSeparator: nil)
            level += 1
        }
        return (try write(levels[level].node), count)
    }

    /// Writes the open node of `level` and adds it to its parent; opens a new node there
    /// whose parent separator will be `nextSeparator` (nil: at `finish`, where none is opened
    /// and the node is its parent's last child).
    private func close(level: Int, nextSeparator: [UInt8]?) throws {
        let (node, separator) = levels[level]
        let page = try write(node)
        if let nextSeparator { levels[level] = (Node(isLeaf: level == 0, arenaCapacity: layout.pageSize), nextSeparator) }
        try addChild(page, separator: separator, level: level + 1, last: nextSeparator == nil)
    }

    /// Adds `page` as the next child of the open branch of `level`, under `separator` (nil:
    /// the first child of that level, which opens it). When the branch is full it is written
    /// and a new one opened; if `page` is the level's last child, the new branch takes the
    /// full one's last child too, so that no branch is left with a single child.
    private func addChild(_ page: PageNumber, separator: [UInt8]?, level: Int, last: Bool) throws {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        guard level < levels.count else {
            let branch = Node(isLeaf: false, arenaCapacity: layout.pageSize / 2)
            branch.insert(at: 0, key: empty, child: .page(page))
            levels.append((branch, nil))
            return
        }
        guard let separator else { preconditionFailure("TreeBuilder: a later child without a separator") }
        let full = levels[level].node
        if full.size + BranchPage.entrySize(keyLength: separator.count) > fillTarget {
            // Full, so with at least 3 children when a separator takes at most a quarter page
            // (at least 2 in a history tree, whose separators may take half of one).
            precondition(full.count >= 2, "TreeBuilder: a full branch of fewer than 2 children")
            let moved = last && full.count >= 3 ? (Array(full.key(full.count - 1)), full.children[full.count - 1]) : nil
            if moved != nil { full.remove(at: full.count - 1) }
            try close(level: level, nextSeparator: moved?.0 ?? separator)
            if let (_, child) = moved {
                levels[level].node.insert(at: 0, key: empty, child: child)
                separator.withUnsafeBytes { levels[level].node.insert(at: 1, key: $0, child: .page(page)) }
            } else {
                levels[level].node.insert(at: 0, key: empty, child: .page(page))
            }
            return
        }
        separator.withUnsafeBytes { full.insert(at: full.count, key: $0, child: .page(page)) }
    }

    /// Appends `node` as one page; returns its number.
    private func write(_ node: Node) throws -> PageNumber {
        pagesWritten += 1
        return try sink.append(runLength: 1) { node.encode(into: $0) }
    }
}
