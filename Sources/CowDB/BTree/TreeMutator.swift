// Changing B-trees inside one write transaction: insert and delete with eager splits
// (a node that outgrows its page splits at once, so no node grows without bound), and
// lazy merges (underfull nodes are merged with a neighbour once, at commit: `rebalance`).

/// Applies a write transaction's changes to its trees.
final class TreeMutator {
    let sink: any PageSink
    let layout: PageLayout
    /// The reader for written pages (refreshed after every flush).
    var pages: PageReader
    /// Nodes materialized since the last spill (an estimate of dirty memory, in pages).
    var dirtyNodes = 0
    /// Bumped on every change, so cursors know to re-seek.
    var mutations: UInt64 = 0

    init(sink: any PageSink) throws {
        self.sink = sink
        self.layout = sink.layout
        self.pages = try sink.reader()
    }

    /// The node for `ref`, copying a written page into memory when needed.
    func materialize(_ ref: NodeRef) throws -> Node {
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

    /// Puts `key` → `value` (replacing any value); returns the value it replaced.
    func put(_ tree: inout TreeState, key: [UInt8], value: LeafValue) throws -> LeafValue? {
        mutations &+= 1
        tree.changed = true
        guard let root = tree.root else {
            tree.root = .node(Node(leafKeys: [key], values: [value]))
            if tree.countsEntries { tree.count &+= 1 }
            dirtyNodes += 1
            return nil
        }
        let node = try materialize(root)
        tree.root = .node(node)
        let result = try key.withUnsafeBytes { try insert(node, key: key, keyBytes: $0, value: value, rightmost: true, leftmost: true, depth: 1) }
        if let (separator, right) = result.split {
            tree.root = .node(Node(branchKeys: [[], separator], children: [.node(node), .node(right)]))
            dirtyNodes += 1
        }
        if result.old == nil, tree.countsEntries { tree.count &+= 1 } // wrapping: a damaged count must not trap
        return result.old
    }

    /// Recursive insert into `node`; returns the replaced value and the split-off right node.
    private func insert(_ node: Node, key: [UInt8], keyBytes: UnsafeRawBufferPointer, value: LeafValue,
                        rightmost: Bool, leftmost: Bool, depth: Int) throws -> (old: LeafValue?, split: ([UInt8], Node)?) {
        guard depth <= PageLayout.maxDepth else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "tree deeper than \(PageLayout.maxDepth) levels")
        }
        if node.isLeaf {
            let (index, found) = node.lowerBound(keyBytes)
            var old: LeafValue?
            if found {
                old = node.values[index]
                node.size += LeafPage.entrySize(keyLength: key.count, value: value) - node.entrySize(index)
                node.values[index] = value
            } else {
                node.keys.insert(key, at: index)
                node.values.insert(value, at: index)
                node.size += LeafPage.entrySize(keyLength: key.count, value: value)
            }
            guard node.size > layout.pageSize else { return (old, nil) }
            return (old, split(node, changedAt: index, rightmost: rightmost, leftmost: leftmost))
        }
        let index = node.childIndex(keyBytes)
        let child = try materialize(node.children[index])
        node.children[index] = .node(child)
        let result = try insert(child, key: key, keyBytes: keyBytes, value: value,
                                rightmost: rightmost && index == node.count - 1, leftmost: leftmost && index == 0, depth: depth + 1)
        guard let (separator, right) = result.split else { return (result.old, nil) }
        node.keys.insert(separator, at: index + 1)
        node.children.insert(.node(right), at: index + 1)
        node.size += BranchPage.entrySize(keyLength: separator.count)
        dirtyNodes += 1
        guard node.size > layout.pageSize else { return (result.old, nil) }
        return (result.old, split(node, changedAt: index + 1, rightmost: rightmost, leftmost: leftmost))
    }

    /// Splits an overfull node in two; `node` keeps the left part. Appends at the right edge
    /// of the tree (and prepends at the left edge) leave the old node full, so ascending
    /// loads fill pages completely; elsewhere the split is at the byte midpoint.
    func split(_ node: Node, changedAt changed: Int, rightmost: Bool, leftmost: Bool) -> ([UInt8], Node) {
        let n = node.count
        var at = -1
        if rightmost, changed == n - 1, node.size - node.entrySize(n - 1) <= layout.pageSize { at = n - 1 }
        if leftmost, changed == 0, n > 1, node.size - node.entrySize(0) <= layout.pageSize { at = 1 }
        if at < 0 { at = midpoint(node) }
        return cut(node, at: at)
    }

    /// The index that splits `node`'s bytes most evenly (at least one entry on each side).
    func midpoint(_ node: Node) -> Int {
        let half = (node.size - PageHeader.size) / 2
        var bytes = 0
        for i in 0 ..< node.count {
            bytes += node.entrySize(i)
            if bytes >= half { return max(1, min(node.count - 1, i + 1)) }
        }
        return max(1, node.count - 1)
    }

    /// Moves entries [at, count) of `node` to a new right node; returns the separator and it.
    func cut(_ node: Node, at: Int) -> ([UInt8], Node) {
        if node.isLeaf {
            let right = Node(leafKeys: Array(node.keys[at...]), values: Array(node.values[at...]))
            node.keys.removeSubrange(at...)
            node.values.removeSubrange(at...)
            node.size -= right.size - PageHeader.size
            dirtyNodes += 1
            return (shortestSeparator(after: node.keys[node.count - 1], upTo: right.keys[0]), right)
        }
        var rightKeys = Array(node.keys[at...])
        let separator = rightKeys[0]
        rightKeys[0] = []
        let right = Node(branchKeys: rightKeys, children: Array(node.children[at...]))
        node.keys.removeSubrange(at...)
        node.children.removeSubrange(at...)
        node.size = Node(branchKeys: node.keys, children: []).size
        dirtyNodes += 1
        return (separator, right)
    }

    /// The shortest prefix of `upper` that is greater than `lower` (suffix truncation).
    private func shortestSeparator(after lower: [UInt8], upTo upper: [UInt8]) -> [UInt8] {
        var common = 0
        while common < lower.count, common < upper.count, lower[common] == upper[common] { common += 1 }
        return Array(upper[0 ..< min(upper.count, common + 1)])
    }

    // MARK: Delete

    /// Removes `key`; returns its value, or nil (and changes nothing) when absent.
    func delete(_ tree: inout TreeState, key: [UInt8]) throws -> LeafValue? {
        guard let root = tree.root else { return nil }
        let removed = try key.withUnsafeBytes { try remove(root, key: $0, head: keyHead($0), depth: 1) }
        guard let (old, node) = removed else { return nil }
        mutations &+= 1
        tree.changed = true
        tree.root = .node(node)
        if tree.countsEntries { tree.count &-= 1 } // wrapping: a damaged count must not trap
        return old
    }

    /// Recursive removal in one descent: written pages are searched through zero-copy views
    /// and materialized only on the way back up, once the key was found, so a missing key
    /// changes nothing. Returns the removed value and the node now standing for `ref`.
    /// Underfull nodes are left for `rebalance`.
    private func remove(_ ref: NodeRef, key: UnsafeRawBufferPointer, head: UInt64, depth: Int) throws -> (LeafValue, Node)? {
        guard depth <= PageLayout.maxDepth else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "tree deeper than \(PageLayout.maxDepth) levels")
        }
        switch ref {
        case let .node(node):
            if node.isLeaf {
                let (index, found) = node.lowerBound(key)
                return found ? (removeEntry(node, at: index), node) : nil
            }
            let index = node.childIndex(key)
            guard let (old, child) = try remove(node.children[index], key: key, head: head, depth: depth + 1) else { return nil }
            node.children[index] = .node(child)
            return (old, node)
        case let .page(number):
            let page = try pages.page(number)
            if page.u8(PageHeader.kindOffset) == PageKind.branch.rawValue {
                let view = try BranchPageView(page, number: number)
                let index = try view.childIndex(key, head: head)
                guard let (old, child) = try remove(.page(try view.child(index)), key: key, head: head, depth: depth + 1) else { return nil }
                // The node decodes the same page, so its child `index` is the one descended into.
                let node = try materialize(ref)
                node.children[index] = .node(child)
                return (old, node)
            }
            let view = try LeafPageView(page, number: number)
            let (index, found) = try view.lowerBound(key, head: head)
            guard found else { return nil }
            let node = try materialize(ref)
            return (removeEntry(node, at: index), node)
        }
    }

    /// Removes entry `index` of a leaf node; returns its value.
    private func removeEntry(_ node: Node, at index: Int) -> LeafValue {
        let old = node.values[index]
        node.size -= node.entrySize(index)
        node.keys.remove(at: index)
        node.values.remove(at: index)
        return old
    }
}
