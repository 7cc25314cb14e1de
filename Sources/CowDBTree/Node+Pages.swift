import CowDBFormat
// Loading a node from a written page and writing a node as a page. The node's cells are in
// the page's own cell encoding, so both are copies; the bytes around them (header, heads,
// children, cell offsets) are LeafPage's and BranchPage's to read and write.

extension Node {
    /// Copies a written page into a node, checking every offset and length against the page.
    package static func load(_ page: UnsafeRawBufferPointer, number: PageNumber) throws -> Node {
        switch page.u8(PageHeader.kindOffset) {
        case PageKind.leaf.rawValue: return try loadLeaf(LeafPageView(page, number: number))
        case PageKind.branch.rawValue: return try loadBranch(BranchPageView(page, number: number))
        default:
            throw CowDBError.corruptPage(number, "expected a branch or leaf page, found kind \(page.u8(PageHeader.kindOffset))",
                                         offset: PageHeader.kindOffset)
        }
    }

    /// Copies a leaf page into a node.
    private static func loadLeaf(_ view: LeafPageView) throws -> Node {
        let page = view.page
        let node = Node(isLeaf: true, capacity: view.count + 8, arenaCapacity: page.count)
        let maxEntrySize = PageLayout(pageSize: page.count).maxEntrySize
        for i in 0 ..< view.count {
            let cell = try view.cell(i)
            let entrySize = LeafPage.entrySize(ofCell: cell)
            // Writers keep every entry within a quarter page (so splits always have room)
            // and the entries within the page; refuse before copying more than a page.
            guard entrySize <= maxEntrySize, node.size + entrySize <= page.count else {
                throw CowDBError.corruptPage(view.number, "leaf entry \(i) of \(entrySize) bytes does not fit (entries overlap or exceed a quarter page)")
            }
            let key = LeafPage.key(ofCell: cell)
            node.appendLoaded(cell: node.writeLeafCell(key: key, value: LeafPage.value(ofCell: cell)), key: key)
        }
        return node
    }

    /// Copies a branch page into a node (separator 0 is read as empty, whatever the page holds).
    private static func loadBranch(_ view: BranchPageView) throws -> Node {
        let page = view.page
        let node = Node(isLeaf: false, capacity: view.count + 8, arenaCapacity: page.count / 2)
        node.children.reserveCapacity(view.count + 8)
        let maxKeySize = PageLayout(pageSize: page.count).maxKeySize
        for i in 0 ..< view.count {
            let key = i == 0 ? UnsafeRawBufferPointer(start: nil, count: 0) : try view.key(i)
            guard key.count <= maxKeySize, node.size + BranchPage.entrySize(keyLength: key.count) <= page.count else {
                throw CowDBError.corruptPage(view.number, "branch separator \(i) of \(key.count) bytes does not fit (entries overlap or exceed the key limit)")
            }
            node.children.append(.page(try view.child(i)))
            node.appendLoaded(cell: node.writeBranchCell(key: key), key: key)
        }
        return node
    }

    /// Writes the node as a page into `page` (zeroed by the caller; the node must fit).
    /// A branch's children must all be written.
    package func encode(into page: UnsafeMutableRawBufferPointer) {
        if isLeaf {
            LeafPage.encode(into: page, count: count) { i in
                (heads[i], UnsafeRawBufferPointer(start: cell(i), count: cellSize(i)))
            }
        } else {
            BranchPage.encode(into: page, count: count) { i in
                guard case let .page(child) = children[i] else { preconditionFailure("child not written") }
                return (heads[i], child, UnsafeRawBufferPointer(start: cell(i), count: cellSize(i)))
            }
        }
    }
}
