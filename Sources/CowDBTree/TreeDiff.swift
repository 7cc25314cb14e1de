import CowDBFormat
import CowDBStorage
// The difference between two B-trees of written pages, found by walking both at once and
// skipping every subtree they share.
//
// Copy-on-write gives the key fact: a committed page is never rewritten, so two trees that
// reach the same page number reach the same bytes, and the same subtree below it. The walk is
// a merge of two cursors whose items are either unread subtrees (a child page number and the
// lower bound of its key range) or leaf entries. At each step:
//
//   1. both items are subtrees with the same page number → skip both, unread;
//   2. otherwise act on the item whose lower bound is smaller (an entry's bound is its key,
//      the root's is −∞, the end is +∞): a subtree is expanded (its page read and replaced by
//      its children or entries); an entry is a key only that side has (removed or added);
//   3. on equal bounds: two entries are the same key (compare values: changed or not); an
//      entry and a subtree → expand the subtree; two different subtrees → expand the one with
//      the larger page number. A page's descendants all have smaller numbers than it, so the
//      larger one cannot lie inside the smaller one, while the smaller may lie inside the
//      larger (that is how the sides line up again after a split or a new root).
//
// Every step consumes an entry, skips or expands a subtree; depth is bounded by
// `PageLayout.maxDepth` and child numbers strictly decrease (checked by `BranchPageView`), so
// the walk ends on any file. docs/DESIGN.md ("Diff") argues the cost bound.

/// One key that differs between the two trees: views into the mapped pages, valid while the
/// readers' mapping lives. `old` is nil for an added key, `new` for a removed one.
package struct RawChange {
    package let key: UnsafeRawBufferPointer
    package let old: (value: StoredValue, leaf: PageNumber)?
    package let new: (value: StoredValue, leaf: PageNumber)?

    /// Memberwise.
    package init(key: UnsafeRawBufferPointer, old: (value: StoredValue, leaf: PageNumber)? = nil, new: (value: StoredValue, leaf: PageNumber)? = nil) {
        self.key = key
        self.old = old
        self.new = new
    }
}

/// A lazy walk over the keys that differ between two trees of written pages, in key order.
package struct TreeDiff {
    private var old: DiffSide
    private var new: DiffSide

    /// Tree pages (branches and leaves) read so far, both sides together: the walk's cost.
    package var pagesVisited: Int { old.pagesRead + new.pagesRead }

    /// A walk from the tree rooted at `oldRoot` to the one at `newRoot` (0: an empty tree).
    package init(oldRoot: PageNumber, oldPages: PageReader, newRoot: PageNumber, newPages: PageReader) {
        old = DiffSide(root: oldRoot, pages: oldPages)
        new = DiffSide(root: newRoot, pages: newPages)
    }

    /// The next differing key, or nil when the walk is done.
    package mutating func next() throws -> RawChange? {
        while true {
            let a = try old.current(), b = try new.current()
            if case let .subtree(pageA, _) = a, case let .subtree(pageB, _) = b, pageA == pageB {
                // The same page in both versions: the same subtree, nothing differs inside.
                old.advance()
                new.advance()
                continue
            }
            let order = DiffSide.compare(a, b)
            if order < 0 {
                guard case let .entry(key, value, leaf) = a else { try old.expand(); continue }
                try old.consume(key)
                return RawChange(key: key, old: (value, leaf), new: nil)
            }
            if order > 0 {
                guard case let .entry(key, value, leaf) = b else { try new.expand(); continue }
                try new.consume(key)
                return RawChange(key: key, old: nil, new: (value, leaf))
            }
            switch (a, b) {
            case let (.entry(key, oldValue, oldLeaf), .entry(_, newValue, newLeaf)):
                try old.consume(key)
                try new.consume(key)
                if try !sameValue(oldValue, below: oldLeaf, newValue, below: newLeaf) {
                    return RawChange(key: key, old: (oldValue, oldLeaf), new: (newValue, newLeaf))
                }
            case (.subtree, .entry):
                try old.expand()
            case (.entry, .subtree):
                try new.expand()
            case let (.subtree(pageA, _), .subtree(pageB, _)):
                if pageA > pageB { try old.expand() } else { try new.expand() }
            default:
                return nil  // both at the end (equal bounds of +∞)
            }
        }
    }

    /// Whether two stored values hold the same bytes. The same overflow run (same first page)
    /// is the same value without reading it; otherwise lengths, then bytes are compared.
    private func sameValue(_ a: StoredValue, below leafA: PageNumber, _ b: StoredValue, below leafB: PageNumber) throws -> Bool {
        if case let .overflow(pageA, lengthA) = a, case let .overflow(pageB, lengthB) = b, pageA == pageB {
            return lengthA == lengthB
        }
        guard a.length == b.length else { return false }
        return try BTree.withBytes(of: .stored(a, leafPage: leafA), pages: old.pages) { bytesA in
            try BTree.withBytes(of: .stored(b, leafPage: leafB), pages: new.pages) { bytesB in
                compareBytes(bytesA, bytesB) == 0
            }
        }
    }
}

extension StoredValue {
    /// Length of the value in bytes.
    package var length: Int {
        switch self {
        case let .inline(bytes): return bytes.count
        case let .overflow(_, length): return length
        }
    }
}

// MARK: - One side of the walk

/// A cursor over one tree whose items are unread subtrees and leaf entries, in key order.
package struct DiffSide {
    /// What the cursor stands on.
    package enum Item {
        /// An unread subtree: its page and the lower bound of its keys (nil: −∞).
        case subtree(PageNumber, low: UnsafeRawBufferPointer?)
        /// A leaf entry.
        case entry(UnsafeRawBufferPointer, StoredValue, leaf: PageNumber)
        /// Past the last entry.
        case end
    }

    /// A page read and the position in it; `low` is the lower bound of its whole key range.
    private struct Frame {
        package enum Page {
            case branch(BranchPageView)
            case leaf(LeafPageView)
        }

        package let page: Page
        package let count: Int
        package let low: UnsafeRawBufferPointer?
        package var index = 0
    }

    package let pages: PageReader
    /// The root, until it is expanded or skipped (0: none, or done).
    private var root: PageNumber
    private var stack: [Frame] = []
    /// The last key consumed, to refuse keys out of order (a damaged tree).
    private var previousKey: UnsafeRawBufferPointer?
    /// Tree pages read so far.
    package private(set) var pagesRead = 0

    /// A cursor before the first item of the tree at `root` (0: empty).
    package init(root: PageNumber, pages: PageReader) {
        self.root = root
        self.pages = pages
        stack.reserveCapacity(8)
    }

    /// The item the cursor stands on.
    package func current() throws -> Item {
        guard let top = stack.last else { return root != 0 ? .subtree(root, low: nil) : .end }
        switch top.page {
        case let .branch(view):
            let low = top.index == 0 ? top.low : try view.key(top.index)
            return .subtree(try view.child(top.index), low: low)
        case let .leaf(view):
            return .entry(try view.key(top.index), try view.value(top.index), leaf: view.number)
        }
    }

    /// Moves past the current item (a skipped subtree or a consumed entry).
    package mutating func advance() {
        if stack.isEmpty {
            root = 0
            return
        }
        stack[stack.count - 1].index += 1
        popExhausted()
    }

    /// Reads the current subtree's page and stands on its first item.
    package mutating func expand() throws {
        guard case let .subtree(number, low) = try current() else { preconditionFailure("expand() on an entry") }
        guard stack.count < PageLayout.maxDepth else {
            throw CowDBError.corruptPage(number, "tree deeper than \(PageLayout.maxDepth) levels")
        }
        let bytes = try pages.page(number)
        pagesRead += 1
        let frame: Frame
        if bytes.u8(PageHeader.kindOffset) == PageKind.branch.rawValue {
            let view = try BranchPageView(bytes, number: number)
            frame = Frame(page: .branch(view), count: view.count, low: low)
        } else {
            let view = try LeafPageView(bytes, number: number)
            frame = Frame(page: .leaf(view), count: view.count, low: low)
        }
        if stack.isEmpty { root = 0 }
        stack.append(frame)
        popExhausted()
    }

    /// Consumes the current entry (key `key`), checking that keys strictly increase.
    package mutating func consume(_ key: UnsafeRawBufferPointer) throws {
        if let previousKey, compareBytes(previousKey, key) >= 0 {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "keys out of order in a tree being diffed")
        }
        previousKey = key
        advance()
    }

    /// Pops pages whose items are all done, moving their parents on (an empty root leaf too).
    private mutating func popExhausted() {
        while let top = stack.last, top.index >= top.count {
            stack.removeLast()
            if stack.isEmpty { return }
            stack[stack.count - 1].index += 1
        }
    }

    /// Orders two items by the lower bound of what they hold (the end is +∞, the root −∞).
    package static func compare(_ a: Item, _ b: Item) -> Int {
        switch (bound(a), bound(b)) {
        case (.end, .end): return 0
        case (.end, _): return 1
        case (_, .end): return -1
        case (.minimum, .minimum): return 0
        case (.minimum, _): return -1
        case (_, .minimum): return 1
        case let (.key(x), .key(y)): return compareBytes(x, y)
        }
    }

    /// The lower bound of an item's keys.
    private enum Bound {
        case minimum
        case key(UnsafeRawBufferPointer)
        case end
    }

    /// The lower bound of `item`'s keys.
    private static func bound(_ item: Item) -> Bound {
        switch item {
        case let .subtree(_, low): return low.map { .key($0) } ?? .minimum
        case let .entry(key, _, _): return .key(key)
        case .end: return .end
        }
    }
}
