// An in-memory, deserialized node of a B-tree being changed by a write transaction (bbolt's
// `node`). A write transaction copies each page it changes into a Node once, changes it in
// memory, and writes it back once, at commit (or earlier, when the dirty budget spills it).

/// A reference to a child: a written page, or a node changed in this transaction.
enum NodeRef {
    case page(PageNumber)
    case node(Node)
}

/// A B-tree node being changed.
///
/// Its mutable properties opt out of dynamic exclusivity checks (`@exclusivity(unchecked)`):
/// they are reached only by the write transaction's own code, one access at a time, and the
/// checks (a `swift_beginAccess` per property access, since the compiler cannot prove
/// across `TreeMutator` that accesses never overlap) cost about a fifth of a bulk load.
final class Node {
    /// Leaf (keys → values) or branch (separators → children).
    let isLeaf: Bool
    /// Keys in order; for branches, keys[0] is unused (empty) and keys[i] is the smallest key of child i.
    @exclusivity(unchecked) var keys: [[UInt8]]
    /// Leaf values, parallel to `keys`.
    @exclusivity(unchecked) var values: [LeafValue]
    /// Branch children, parallel to `keys`.
    @exclusivity(unchecked) var children: [NodeRef]
    /// Bytes the node takes when written (header + entries).
    @exclusivity(unchecked) var size: Int
    /// A page this transaction wrote for this node earlier (spill), which it may overwrite; 0 if none.
    @exclusivity(unchecked) var reusablePage: PageNumber = 0

    init(leafKeys keys: [[UInt8]], values: [LeafValue]) {
        isLeaf = true
        self.keys = keys
        self.values = values
        children = []
        size = PageHeader.size
        for i in 0 ..< keys.count { size += LeafPage.entrySize(keyLength: keys[i].count, value: values[i]) }
    }

    init(branchKeys keys: [[UInt8]], children: [NodeRef]) {
        isLeaf = false
        self.keys = keys
        self.values = []
        self.children = children
        size = PageHeader.size
        for i in 0 ..< keys.count { size += BranchPage.entrySize(keyLength: i == 0 ? 0 : keys[i].count) }
    }

    /// Entries in the node.
    var count: Int { keys.count }

    /// Bytes entry `i` takes.
    func entrySize(_ i: Int) -> Int {
        isLeaf ? LeafPage.entrySize(keyLength: keys[i].count, value: values[i])
            : BranchPage.entrySize(keyLength: i == 0 ? 0 : keys[i].count)
    }

    /// Copies a written page into a node.
    static func load(_ page: UnsafeRawBufferPointer, number: PageNumber) throws -> Node {
        switch page.u8(PageHeader.kindOffset) {
        case PageKind.leaf.rawValue:
            let view = try LeafPageView(page, number: number)
            var keys: [[UInt8]] = []
            var values: [LeafValue] = []
            keys.reserveCapacity(view.count + 1)
            values.reserveCapacity(view.count + 1)
            for i in 0 ..< view.count {
                keys.append(Array(try view.key(i)))
                switch try view.value(i) {
                case let .inline(bytes): values.append(.inline(Array(bytes)))
                case let .overflow(page, length): values.append(.overflow(page: page, length: length))
                }
            }
            let node = Node(leafKeys: keys, values: values)
            guard node.size <= page.count else { throw CowDBError.corruptPage(number, "leaf entries overlap: they need \(node.size) bytes") }
            return node
        case PageKind.branch.rawValue:
            let view = try BranchPageView(page, number: number)
            var keys: [[UInt8]] = []
            var children: [NodeRef] = []
            keys.reserveCapacity(view.count + 1)
            children.reserveCapacity(view.count + 1)
            for i in 0 ..< view.count {
                keys.append(i == 0 ? [] : Array(try view.key(i)))
                children.append(.page(try view.child(i)))
            }
            let node = Node(branchKeys: keys, children: children)
            guard node.size <= page.count else { throw CowDBError.corruptPage(number, "branch entries overlap: they need \(node.size) bytes") }
            return node
        default:
            throw CowDBError.corruptPage(number, "expected a branch or leaf page, found kind \(page.u8(PageHeader.kindOffset))", offset: 4)
        }
    }

    /// First index whose key is ≥ `key` (leaves), and whether it is equal.
    func lowerBound(_ key: UnsafeRawBufferPointer) -> (index: Int, found: Bool) {
        // Heads (first 8 bytes as a number) decide most comparisons without a `memcmp` call.
        let head = keyHead(key)
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) >> 1
            let order = keys[mid].withUnsafeBytes { bytes -> Int in
                let other = keyHead(bytes)
                return other == head ? compareBytes(bytes, key) : (other < head ? -1 : 1)
            }
            if order < 0 { low = mid + 1 } else if order > 0 { high = mid } else { return (mid, true) }
        }
        return (low, false)
    }

    /// Index of the child whose range holds `key` (branches).
    func childIndex(_ key: UnsafeRawBufferPointer) -> Int {
        let head = keyHead(key) // as in lowerBound
        var low = 1, high = keys.count
        while low < high {
            let mid = (low + high) >> 1
            let lessOrEqual = keys[mid].withUnsafeBytes { bytes -> Bool in
                let other = keyHead(bytes)
                return other == head ? compareBytes(bytes, key) <= 0 : other < head
            }
            if lessOrEqual { low = mid + 1 } else { high = mid }
        }
        return low - 1
    }
}
