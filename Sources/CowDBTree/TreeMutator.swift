import CowDBFormat
import CowDBStorage
// Changing B-trees inside one write transaction: insert and delete with eager splits
// (a node that outgrows its page splits at once, so no node grows without bound), and
// lazy merges (underfull nodes are merged with a neighbour once, at commit: `rebalance`).

/// Applies a write transaction's changes to its trees.
package final class TreeMutator {
    package let sink: any PageSink
    package let layout: PageLayout
    /// The reader for written pages (refreshed after every flush).
    package var pages: PageReader
    /// Nodes materialized since the last spill (an estimate of dirty memory, in pages).
    package var dirtyNodes = 0
    /// Bumped on every change, so cursors know to re-seek.
    package var mutations: UInt64 = 0

    package init(sink: any PageSink) throws {
        self.sink = sink
        self.layout = sink.layout
        self.pages = try sink.reader()
    }

    /// The node for `ref`, copying a written page into memory when needed.
    package func materialize(_ ref: NodeRef) throws -> Node {
        switch ref {
        case let .node(node):
            return node
        case let .page(number):
            let node = try Node.load(try pages.page(number), number: number)
            if sink.ownsPage(number) { node.reusablePage = number }
            dirtyNodes += 1
            return node
        }
    }

    // MARK: Insert

    /// A new, empty node with a page's worth of room.
    package func newNode(isLeaf: Bool) -> Node {
        dirtyNodes += 1
        return Node(isLeaf: isLeaf, arenaCapacity: layout.pageSize)
    }

    /// A new root over two children.
    package func newRoot(_ left: Node, _ separator: [UInt8], _ right: Node) -> Node {
        let root = newNode(isLeaf: false)
        root.insert(at: 0, key: UnsafeRawBufferPointer(start: nil, count: 0), child: .node(left))
        separator.withUnsafeBytes { root.insert(at: 1, key: $0, child: .node(right)) }
        return root
    }

    /// Puts `key` → `value` (replacing any value); returns whether it replaced one. The
    /// bytes are copied into the tree.
    package func put(_ tree: inout TreeState, key: UnsafeRawBufferPointer, value: StoredValue) throws -> Bool {
        mutations &+= 1
        tree.changed = true
        guard let root = tree.root else {
            let node = newNode(isLeaf: true)
            node.insert(at: 0, key: key, value: value)
            tree.root = .node(node)
            if tree.countsEntries { tree.count &+= 1 }
            return false
        }
        let node: Node
        if case let .node(existing) = root { node = existing } else {
            node = try materialize(root)
            tree.root = .node(node)
        }
        let result = try insert(node, key: key, value: value, rightmost: true, leftmost: true, depth: 1)
        if let (separator, right) = result.split {
            tree.root = .node(newRoot(node, separator, right))
        }
        if !result.replaced, tree.countsEntries { tree.count &+= 1 } // wrapping: a damaged count must not trap
        return result.replaced
    }

    /// Recursive insert into `node`; returns whether a value was replaced, and the split-off right node.
    private func insert(_ node: Node, key: UnsafeRawBufferPointer, value: StoredValue,
                        rightmost: Bool, leftmost: Bool, depth: Int) throws -> (replaced: Bool, split: ([UInt8], Node)?) {
        guard depth <= PageLayout.maxDepth else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "tree deeper than \(PageLayout.maxDepth) levels")
        }
        if node.isLeaf {
            let (index, found) = node.lowerBound(key)
            if found { node.replaceValue(at: index, key: key, value: value) } else { node.insert(at: index, key: key, value: value) }
            guard node.size > layout.pageSize else { return (found, nil) }
            return (found, split(node, changedAt: index, rightmost: rightmost, leftmost: leftmost))
        }
        let index = node.childIndex(key)
        // Stored back only when newly materialized: rewriting an array element costs a
        // uniqueness check, a retain and a release on every level of every insert.
        let child: Node
        if case let .node(existing) = node.children[index] { child = existing } else {
            child = try materialize(node.children[index])
            node.children[index] = .node(child)
        }
        let result = try insert(child, key: key, value: value,
                                rightmost: rightmost && index == node.count - 1, leftmost: leftmost && index == 0, depth: depth + 1)
        guard let (separator, right) = result.split else { return (result.replaced, nil) }
        separator.withUnsafeBytes { node.insert(at: index + 1, key: $0, child: .node(right)) }
        guard node.size > layout.pageSize else { return (result.replaced, nil) }
        return (result.replaced, split(node, changedAt: index + 1, rightmost: rightmost, leftmost: leftmost))
    }

    /// Splits an overfull node in two; `node` keeps the left part. Appends at the right edge
    /// of the tree (and prepends at the left edge) leave the old node full, so ascending
    /// loads fill pages completely; elsewhere the split is at the byte midpoint.
    package func split(_ node: Node, changedAt changed: Int, rightmost: Bool, leftmost: Bool) -> ([UInt8], Node) {
        let n = node.count
        var at = -1
        if rightmost, changed == n - 1, node.size - node.entrySize(n - 1) <= layout.pageSize { at = n - 1 }
        if leftmost, changed == 0, n > 1, node.size - node.entrySize(0) <= layout.pageSize { at = 1 }
        if at < 0 { at = midpoint(node) }
        return cut(node, at: at)
    }

    /// The index that splits `node`'s bytes most evenly (at least one entry on each side).
    package func midpoint(_ node: Node) -> Int {
        let half = (node.size - PageHeader.size) / 2
        var bytes = 0
        for i in 0 ..< node.count {
            bytes += node.entrySize(i)
            if bytes >= half { return max(1, min(node.count - 1, i + 1)) }
        }
        return max(1, node.count - 1)
    }

    /// Moves entries [at, count) of `node` to a new right node; returns the separator and it.
    package func cut(_ node: Node, at: Int) -> ([UInt8], Node) {
        dirtyNodes += 1
        let (separator, right) = node.cut(at: at)
        return (separator, right)
    }

    // MARK: Delete

    /// Removes `key`; returns whether it was present (when absent, nothing changes).
    package func delete(_ tree: inout TreeState, key: UnsafeRawBufferPointer) throws -> Bool {
        guard let root = tree.root else { return false }
        guard let node = try remove(root, key: key, head: keyHead(key), depth: 1) else { return false }
        mutations &+= 1
        tree.changed = true
        tree.root = .node(node)
        if tree.countsEntries { tree.count &-= 1 } // wrapping: a damaged count must not trap
        return true
    }

    /// Recursive removal in one descent: written pages are searched through zero-copy views
    /// and materialized only on the way back up, once the key was found, so a missing key
    /// changes nothing. Returns the node now standing for `ref` (nil: key not found).
    /// Underfull nodes are left for `rebalance`.
    private func remove(_ ref: NodeRef, key: UnsafeRawBufferPointer, head: UInt64, depth: Int) throws -> Node? {
        guard depth <= PageLayout.maxDepth else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "tree deeper than \(PageLayout.maxDepth) levels")
        }
        switch ref {
        case let .node(node):
            if node.isLeaf {
                let (index, found) = node.lowerBound(key)
                guard found else { return nil }
                node.remove(at: index)
                return node
            }
            let index = node.childIndex(key)
            guard let child = try remove(node.children[index], key: key, head: head, depth: depth + 1) else { return nil }
            node.children[index] = .node(child)
            return node
        case let .page(number):
            let page = try pages.page(number)
            if page.u8(PageHeader.kindOffset) == PageKind.branch.rawValue {
                let view = try BranchPageView(page, number: number)
                let index = try view.childIndex(key, head: head)
                guard let child = try remove(.page(try view.child(index)), key: key, head: head, depth: depth + 1) else { return nil }
                // The node decodes the same page, so its child `index` is the one descended into.
                let node = try materialize(ref)
                node.children[index] = .node(child)
                return node
            }
            let view = try LeafPageView(page, number: number)
            let (index, found) = try view.lowerBound(key, head: head)
            guard found else { return nil }
            let node = try materialize(ref)
            node.remove(at: index)
            return node
        }
    }
}
