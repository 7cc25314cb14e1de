import CowDBFormat
import CowDBStorage
// Walking the leaf entries of a tree of written pages in key order, from a key: the read
// path of range reads. The path from the root is kept in a stack-allocated buffer of branch
// views (no heap allocation, no reference counting), so a walk costs one descent plus a
// climb between leaves (which views the branch page again).

extension BTree {
    /// One level of a walk's path: a branch page and the child descended into. 16 bytes, so
    /// a path of `PageLayout.maxDepth` fits the 1 KiB under which temporary allocations stay
    /// on the stack.
    private struct PathStep {
        package var branch: PageNumber
        package var index: Int
    }

    /// Calls `body` with each leaf entry (the leaf's view and the entry's index), in key
    /// order, from the first key ≥ `from` (nil: the first entry), until `body` returns false
    /// or the tree ends. Pages are bounds-checked as by `findStored`.
    @inline(__always)
    package static func walkStored(rootPage: PageNumber, from: UnsafeRawBufferPointer?, pages: PageReader,
                           _ body: (LeafPageView, Int) throws -> Bool) throws {
        // A literal capacity (= PageLayout.maxDepth), so the buffer goes on the stack.
        try withUnsafeTemporaryAllocation(of: PathStep.self, capacity: 48) { path in
            assert(path.count == PageLayout.maxDepth)
            let head = from.map(keyHead) ?? 0
            var seeking = from != nil
            var depth = 0
            var number = rootPage
            while true {
                // Down from `number` to a leaf: toward `from` on the first descent, else leftmost.
                while true {
                    let page = try pages.page(number)
                    guard page.u8(PageHeader.kindOffset) == PageKind.branch.rawValue else { break }
                    guard depth < PageLayout.maxDepth - 1 else {
                        throw CowDBError.corruptPage(number, "tree deeper than \(PageLayout.maxDepth) levels")
                    }
                    let branch = try BranchPageView(page, number: number)
                    let index = seeking ? try branch.childIndex(from!, head: head) : 0
                    path.initializeElement(at: depth, to: PathStep(branch: number, index: index))
                    depth += 1
                    number = try branch.child(index)
                }
                let leaf = try LeafPageView(try pages.page(number), number: number)
                var index = seeking ? try leaf.lowerBound(from!, head: head).index : 0
                seeking = false
                while index < leaf.count {
                    guard try body(leaf, index) else { return }
                    index += 1
                }
                // Up to the nearest branch with a child to the right, and into that child.
                while true {
                    guard depth > 0 else { return }
                    let step = path[depth - 1]
                    let branch = try BranchPageView(try pages.page(step.branch), number: step.branch)
                    if step.index + 1 < branch.count {
                        path[depth - 1].index = step.index + 1
                        number = try branch.child(step.index + 1)
                        break
                    }
                    depth -= 1
                }
            }
        }
    }
}
