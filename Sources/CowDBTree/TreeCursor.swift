import CowDBFormat
import CowDBStorage
// A position in a B-tree: the path from the root to an entry of a leaf. Works on written
// pages (zero-copy views) and on nodes changed in a write transaction alike.

/// A path from a root to a leaf entry.
package struct TreeCursor {
    /// One level of the path: a page view or a changed node.
    package enum Level {
        case leafPage(LeafPageView)
        case branchPage(BranchPageView)
        case node(Node)

        package var count: Int {
            switch self {
            case let .leafPage(view): return view.count
            case let .branchPage(view): return view.count
            case let .node(node): return node.count
            }
        }

        package var isLeaf: Bool {
            switch self {
            case .leafPage: return true
            case .branchPage: return false
            case let .node(node): return node.isLeaf
            }
        }
    }

    private enum Target { case first, last, key(UnsafeRawBufferPointer, UInt64) }

    package let root: NodeRef?
    package let pages: PageReader
    package private(set) var stack: [(level: Level, index: Int)] = []

    package init(root: NodeRef?, pages: PageReader) {
        self.root = root
        self.pages = pages
    }

    /// Whether the cursor is on an entry.
    package var isPositioned: Bool {
        guard let top = stack.last else { return false }
        return top.level.isLeaf && top.index >= 0 && top.index < top.level.count
    }

    // MARK: Moves

    /// Positions on the first entry ≥ `key`; false when there is none.
    package mutating func seek(_ key: UnsafeRawBufferPointer) throws -> Bool {
        stack.removeAll(keepingCapacity: true)
        guard let root else { return false }
        try descend(root, .key(key, keyHead(key)))
        if isPositioned { return true }
        return try nextLeaf()
    }

    /// Positions on the first entry; false when the tree is empty.
    package mutating func first() throws -> Bool {
        stack.removeAll(keepingCapacity: true)
        guard let root else { return false }
        try descend(root, .first)
        return isPositioned ? true : try nextLeaf()
    }

    /// Positions on the last entry; false when the tree is empty.
    package mutating func last() throws -> Bool {
        stack.removeAll(keepingCapacity: true)
        guard let root else { return false }
        try descend(root, .last)
        return isPositioned ? true : try previousLeaf()
    }

    /// Moves to the next entry; false (and unpositioned) past the end.
    package mutating func next() throws -> Bool {
        guard isPositioned else { return false }
        stack[stack.count - 1].index += 1
        return isPositioned ? true : try nextLeaf()
    }

    /// Moves to the previous entry; false (and unpositioned) before the start.
    package mutating func previous() throws -> Bool {
        guard isPositioned else { return false }
        stack[stack.count - 1].index -= 1
        return isPositioned ? true : try previousLeaf()
    }

    // MARK: Entry

    /// The leaf level the cursor is on and its index there (the cursor must be positioned).
    package var current: (level: Level, index: Int) { stack[stack.count - 1] }

    /// Calls `body` with the current key's bytes (no copy).
    package func withKey<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let top = stack[stack.count - 1]
        switch top.level {
        case let .leafPage(view): return try body(try view.key(top.index))
        case let .node(node): return try withExtendedLifetime(node) { try body(node.key(top.index)) }
        case .branchPage: preconditionFailure("cursor not on a leaf")
        }
    }

    /// The current key, copied.
    package func keyArray() throws -> [UInt8] {
        let top = stack[stack.count - 1]
        if case let .node(node) = top.level { return Array(node.key(top.index)) }
        return try withKey { Array($0) }
    }

    /// Where the current value is.
    package func value() throws -> FoundValue {
        let top = stack[stack.count - 1]
        switch top.level {
        case let .leafPage(view): return .stored(try view.value(top.index), leafPage: view.number)
        case let .node(node): return .dirty(node, index: top.index)
        case .branchPage: preconditionFailure("cursor not on a leaf")
        }
    }

    // MARK: Path

    /// Resolves a reference to a level (checking page kinds and bounds).
    private func resolve(_ ref: NodeRef) throws -> Level {
        switch ref {
        case let .node(node): return .node(node)
        case let .page(number):
            let page = try pages.page(number)
            if page.u8(PageHeader.kindOffset) == PageKind.branch.rawValue { return .branchPage(try BranchPageView(page, number: number)) }
            return .leafPage(try LeafPageView(page, number: number))
        }
    }

    /// Child `index` of a branch level.
    private func child(_ level: Level, _ index: Int) throws -> NodeRef {
        switch level {
        case let .branchPage(view): return .page(try view.child(index))
        case let .node(node): return node.children[index]
        case .leafPage: preconditionFailure("leaf has no children")
        }
    }

    /// Pushes the path from `ref` down to a leaf toward `target`.
    private mutating func descend(_ ref: NodeRef, _ target: Target) throws {
        var ref = ref
        while true {
            guard stack.count < PageLayout.maxDepth else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "tree deeper than \(PageLayout.maxDepth) levels")
            }
            let level = try resolve(ref)
            let index: Int
            switch (target, level) {
            case (.first, _): index = 0
            case (.last, _): index = level.count - 1
            case let (.key(key, head), .leafPage(view)): index = try view.lowerBound(key, head: head).index
            case let (.key(key, head), .branchPage(view)): index = try view.childIndex(key, head: head)
            case let (.key(key, _), .node(node)): index = node.isLeaf ? node.lowerBound(key).index : node.childIndex(key)
            }
            stack.append((level, index))
            if level.isLeaf { return }
            guard index >= 0, index < level.count else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "empty branch")
            }
            ref = try child(level, index)
        }
    }

    /// From a leaf (exhausted at its end, or skipped), moves to the first entry of the next non-empty leaf.
    package mutating func nextLeaf() throws -> Bool {
        while true {
            stack.removeLast()
            guard let top = stack.last else { return false }
            if top.index + 1 < top.level.count {
                stack[stack.count - 1].index += 1
                try descend(try child(top.level, top.index + 1), .first)
                if isPositioned { return true }
            }
        }
    }

    /// From a leaf exhausted at its start, moves to the last entry of the previous non-empty leaf.
    private mutating func previousLeaf() throws -> Bool {
        while true {
            stack.removeLast()
            guard let top = stack.last else { return false }
            if top.index - 1 >= 0 {
                stack[stack.count - 1].index -= 1
                try descend(try child(top.level, top.index - 1), .last)
                if isPositioned { return true }
            }
        }
    }
}
