import CowDBFormat
import CowDBStorage
// Look-ups: from a root down to the leaf that holds a key. The read path works on mapped
// pages only (zero-copy views, no allocation); a write transaction's trees mix written pages
// and in-memory nodes, so its look-ups walk `NodeRef`s.

/// The state of one B-tree inside a transaction.
package struct TreeState {
    /// The root (nil: the tree is empty).
    package var root: NodeRef?
    /// Entries in the tree.
    package var count: UInt64
    /// Whether this transaction changed the tree.
    package var changed = false
    /// Whether `count` is kept (the catalog's entries are not counted).
    package var countsEntries = true

    /// A tree as a committed version has it.
    package init(rootPage: PageNumber, count: UInt64) {
        root = rootPage == 0 ? nil : .page(rootPage)
        self.count = count
    }
}

/// Where a key's value was found.
package enum FoundValue {
    /// In a written leaf page (`leafPage` bounds the overflow run it may point to).
    case stored(StoredValue, leafPage: PageNumber)
    /// In a node changed by this transaction: its entry `index` (the node keeps the bytes alive).
    case dirty(Node, index: Int)
}

/// B-tree algorithms; stateless, over a `PageReader` (and a `PageSink` when writing).
package enum BTree {
    /// Finds `key` in a tree of written pages only: the read path.
    @inline(__always)
    package static func findStored(rootPage: PageNumber, key: UnsafeRawBufferPointer, pages: PageReader) throws -> (StoredValue, PageNumber)? {
        let head = keyHead(key)
        var number = rootPage
        var depth = 0
        while true {
            depth += 1
            guard depth <= PageLayout.maxDepth else {
                throw CowDBError.corruptPage(number, "tree deeper than \(PageLayout.maxDepth) levels")
            }
            let page = try pages.page(number)
            let kind = page.u8(PageHeader.kindOffset)
            if kind == PageKind.branch.rawValue {
                let branch = try BranchPageView(page, number: number)
                branch.prefetchSearchArea()
                number = try branch.child(try branch.childIndex(key, head: head))
            } else {
                let leaf = try LeafPageView(page, number: number)
                leaf.prefetchSearchArea()
                let (index, found) = try leaf.lowerBound(key, head: head)
                return found ? (try leaf.value(index), number) : nil
            }
        }
    }

    /// Finds `key` in a tree that may hold changed nodes.
    package static func find(_ root: NodeRef?, key: UnsafeRawBufferPointer, pages: PageReader) throws -> FoundValue? {
        var ref = root
        var depth = 0
        while let current = ref {
            depth += 1
            guard depth <= PageLayout.maxDepth else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "tree deeper than \(PageLayout.maxDepth) levels")
            }
            switch current {
            case let .page(number):
                guard let (value, leaf) = try findStored(rootPage: number, key: key, pages: pages) else { return nil }
                return .stored(value, leafPage: leaf)
            case let .node(node):
                if node.isLeaf {
                    let (index, found) = node.lowerBound(key)
                    return found ? .dirty(node, index: index) : nil
                }
                ref = node.children[node.childIndex(key)]
            }
        }
        return nil
    }

    /// Calls `body` with the bytes of a found value (views into the map or the node; no copy).
    package static func withBytes<R>(of found: FoundValue, pages: PageReader, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch found {
        case let .stored(.inline(bytes), _):
            return try body(bytes)
        case let .stored(.overflow(page, length), leaf):
            return try body(try pages.overflowValue(page: page, length: length, below: leaf))
        case let .dirty(node, index):
            switch node.value(index) {
            case let .inline(bytes): return try withExtendedLifetime(node) { try body(bytes) }
            case let .overflow(page, length): return try body(try pages.overflowValue(page: page, length: length, below: pages.limit))
            }
        }
    }
}
