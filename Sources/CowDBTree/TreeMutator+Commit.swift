import CowDBFormat
import CowDBStorage
// The commit half of a write transaction's tree work (bbolt's rebalance → spill):
//  - rebalance: merge each changed node that fell below half a page into a neighbour when
//    both fit in one page, or even out the two when they do not and the node is below a
//    quarter; drop empty nodes; collapse a root with one child.
//  - write: every changed node once, children before parents (so a child's page number is
//    always below its parent's), reusing pages this transaction already wrote for it.
//  - spill: when the dirty budget is exceeded, write changed leaves early.

extension TreeMutator {
    // MARK: Rebalance

    /// Restores fill after deletes; returns with the root collapsed.
    package func rebalance(_ tree: inout TreeState) throws {
        guard case let .node(root)? = tree.root else { return }
        if let (separator, right) = try rebalance(root, depth: 1) {
            tree.root = .node(newRoot(root, separator, right))
        }
        while true {
            guard case let .node(node)? = tree.root else { break }
            if node.count == 0 { tree.root = nil; break }
            if node.isLeaf { break }
            if node.count == 1 { tree.root = node.children[0]; continue }
            break
        }
    }

    /// Post-order: children first, then merges among this node's children. Evening out two
    /// children can put a longer separator into this node; if it no longer fits a page, it
    /// splits, and the split-off right part is returned for the parent to insert.
    private func rebalance(_ node: Node, depth: Int) throws -> ([UInt8], Node)? {
        guard !node.isLeaf else { return nil }
        guard depth <= PageLayout.maxDepth else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "tree deeper than \(PageLayout.maxDepth) levels")
        }
        var j = 0
        while j < node.count {
            if case let .node(child) = node.children[j], let (separator, right) = try rebalance(child, depth: depth + 1) {
                separator.withUnsafeBytes { node.insert(at: j + 1, key: $0, child: .node(right)) }
                j += 2
            } else {
                j += 1
            }
        }
        pack(node)
        try mergeUnderfullChildren(of: node)
        return node.size > layout.pageSize ? cut(node, at: midpoint(node)) : nil
    }

    /// Merges each child of `node` under half a page with a sibling (or evens the two out when
    /// they don't fit one page); drops empty children. A leaf spilled early counts too.
    private func mergeUnderfullChildren(of node: Node) throws {
        let half = layout.pageSize / 2
        var i = 0
        while i < node.count {
            let child: Node
            switch node.children[i] {
            case let .node(node):
                child = node
            case let .page(number) where sink.ownsPage(number):
                // A leaf this transaction spilled early: merge it too if it fell underfull.
                let leaf = try LeafPageView(try pages.page(number), number: number)
                if leaf.count > 0, try leaf.storedSize() >= half { i += 1; continue }
                child = try materialize(.page(number))
                node.children[i] = .node(child)
            case .page:
                i += 1
                continue
            }
            if child.count == 0 {
                node.remove(at: i)
                continue
            }
            if child.size >= half || node.count == 1 { i += 1; continue }
            let left = i + 1 < node.count ? i : i - 1
            let right = left + 1
            let leftNode = try materialize(node.children[left])
            let rightNode = try materialize(node.children[right])
            guard leftNode.isLeaf == rightNode.isLeaf else {
                // Only a damaged or hostile file puts a leaf beside a branch; merging them
                // would read one kind of cell as the other.
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "a leaf and a branch are siblings under one branch")
            }
            let separator = node.key(right)
            let separatorCost = leftNode.isLeaf ? 0 : separator.count
            if leftNode.size + rightNode.size - PageHeader.size + separatorCost <= layout.pageSize {
                leftNode.append(rightNode, separator: separator)
                node.children[left] = .node(leftNode)
                node.remove(at: right)
                i = left
            } else if child.size < layout.pageSize / 4 {
                leftNode.append(rightNode, separator: separator)
                let at = midpoint(leftNode)
                let (newSeparator, newRight) = cut(leftNode, at: at)
                node.children[left] = .node(leftNode)
                node.children[right] = .node(newRight)
                newSeparator.withUnsafeBytes { node.setSeparator(right, $0) }
                i = right + 1
            } else {
                i += 1
            }
        }
    }

    /// Packs runs of adjacent changed leaves under `node`: entries move left until each
    /// leaf is about 15/16 full, and leaves left empty are dropped. Random inserts leave
    /// leaves about 70% full (each split halves a full one); a transaction that changed
    /// neighbouring leaves — a bulk load, a mass delete — writes them packed instead, so it
    /// writes fewer pages and the file is smaller. Leaves whose neighbours were not changed
    /// are left alone (packing them would mean rewriting the neighbours).
    private func pack(_ node: Node) {
        let target = layout.pageSize - layout.pageSize / 16
        var i = 0
        while i + 1 < node.count {
            guard case let .node(left) = node.children[i], left.isLeaf, case let .node(right) = node.children[i + 1], right.isLeaf else { i += 1; continue }
            var moved = false
            while right.count > 0, left.size + right.entrySize(0) <= target {
                left.insert(at: left.count, key: right.key(0), value: right.value(0))
                right.remove(at: 0)
                moved = true
            }
            if right.count == 0 {
                node.remove(at: i + 1) // and try the next neighbour
                continue
            }
            if moved {
                Node.shortestSeparator(after: left.key(left.count - 1), upTo: right.key(0)).withUnsafeBytes { node.setSeparator(i + 1, $0) }
            }
            i += 1
        }
    }

    // MARK: Write

    /// Writes every changed node of the tree; returns the root page (0 for an empty tree).
    package func write(_ tree: inout TreeState) throws -> PageNumber {
        switch tree.root {
        case nil: return 0
        case let .page(number)?: return number
        case let .node(node)?:
            let number = try write(node)
            tree.root = .page(number)
            return number
        }
    }

    /// Writes `node` after its changed children; returns its page.
    private func write(_ node: Node) throws -> PageNumber {
        if !node.isLeaf {
            for i in 0 ..< node.count {
                if case let .node(child) = node.children[i] { node.children[i] = .page(try write(child)) }
            }
        }
        precondition(node.size <= layout.pageSize, "node larger than a page at write")
        if node.reusablePage != 0, node.isLeaf, !node.hasOverflow(atOrAbove: node.reusablePage) {
            try sink.rewrite(node.reusablePage) { node.encode(into: $0) }
            return node.reusablePage
        }
        return try sink.append(runLength: 1) { node.encode(into: $0) }
    }

    /// Writes the changed leaves under a branch and points the branch at their pages.
    private func spill(_ node: Node) throws {
        for i in 0 ..< node.count {
            guard case let .node(child) = node.children[i] else { continue }
            if child.isLeaf {
                node.children[i] = .page(try write(child))
            } else {
                try spill(child)
            }
        }
    }

    /// Writes the changed leaves of the tree early (the dirty budget is exceeded); branches
    /// stay in memory until commit, so parents are still written after their children.
    package func spillLeaves(_ tree: inout TreeState) throws {
        guard case let .node(root)? = tree.root else { return }
        if root.isLeaf { return }
        try spill(root)
    }

    /// Marks the dirty estimate as reset after a spill and refreshes the page reader.
    package func didSpill() throws {
        try sink.flush()
        pages = try sink.reader()
        dirtyNodes = 0
        mutations &+= 1 // cursors must pick up the new reader: their path may lead to spilled pages
    }
}
