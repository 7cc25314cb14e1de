import CowDBFormat
import CowDBStorage
// Walks the trees of a version and verifies everything that can be verified: every run's
// checksum, page kinds, entry counts that fit, keys in order within a page and within the
// bounds their parent's separators give, equal depth on every path, children below their
// parents, overflow runs that match their references and do not overlap, and entry counts
// equal to what the catalog and the commit record say. It also counts pages, which is what
// `stats()` reports. A shared subtree (the same page reached again, from another version)
// is verified once; later visits check only its key range against the parent's bounds.

/// One problem found by `check()`.
public struct CheckProblem: Sendable, Equatable, CustomStringConvertible {
    /// The page where it was found (nil when not page-specific).
    public let page: UInt64?
    /// Byte offset within the page, when known.
    public let offset: Int?
    /// The keyspace whose tree holds the page (nil: default keyspace or not tree-specific).
    public let keyspace: String?
    /// What was wrong.
    public let message: String

    /// The problem on one line: where it was found (page, offset, keyspace), then what was wrong.
    public var description: String {
        var location: [String] = []
        if let page { location.append("page \(page)") }
        if let offset { location.append("offset \(offset)") }
        if let keyspace { location.append("keyspace \(keyspace.debugDescription)") }
        return (location.isEmpty ? "" : location.joined(separator: ", ") + ": ") + message
    }
}

/// Page counts of one tree.
package struct TreeFigures {
    package var depth = 0
    package var branchPages = 0
    package var leafPages = 0
    package var overflowPages = 0
    package var entries: UInt64 = 0

    /// Memberwise.
    package init(depth: Int = 0, branchPages: Int = 0, leafPages: Int = 0, overflowPages: Int = 0, entries: UInt64 = 0) {
        (self.depth, self.branchPages, self.leafPages, self.overflowPages, self.entries) = (depth, branchPages, leafPages, overflowPages, entries)
    }
}

/// The walker behind `check()` and `stats()`.
package final class TreeChecker {
    package let pages: PageReader
    package private(set) var problems: [CheckProblem] = []
    /// Pages verified so far, with what they hold (shared subtrees are verified once).
    private var verified: [PageNumber: Summary] = [:]
    /// Pages of overflow runs seen in the current version (for overlap detection).
    private var overflowOwners: [PageNumber: PageNumber] = [:]
    private var keyspace: String?
    /// Distinct pages reachable from the versions walked.
    package private(set) var reachablePages = 0

    /// What a verified subtree holds: its first and last keys, and its figures (depth, pages, entries).
    private struct Summary {
        var first: [UInt8]?
        var last: [UInt8]?
        var figures: TreeFigures
    }

    /// The longest key a leaf may hold (a history tree's is longer, see PageLayout).
    package var maxKeySize: Int

    package init(pages: PageReader) {
        self.pages = pages
        maxKeySize = pages.layout.maxKeySize
    }

    /// Records a problem.
    package func report(_ page: PageNumber?, _ message: String, offset: Int? = nil) {
        problems.append(CheckProblem(page: page, offset: offset, keyspace: keyspace, message: message))
    }

    /// Checks one tree; returns its figures.
    package func checkTree(root: PageNumber, keyspace: String?, below limit: PageNumber) -> TreeFigures {
        self.keyspace = keyspace
        guard root != 0 else { return TreeFigures() }
        guard root < limit else {
            report(root, "root page is not below the commit record (\(limit))")
            return TreeFigures()
        }
        return walk(root, lower: nil, upper: nil, depth: 1)?.figures ?? TreeFigures()
    }

    /// Verifies the subtree at `number`, whose keys must lie in [lower, upper).
    private func walk(_ number: PageNumber, lower: [UInt8]?, upper: [UInt8]?, depth: Int) -> Summary? {
        if let summary = verified[number] {
            checkBounds(number, summary.first, summary.last, lower: lower, upper: upper)
            return summary
        }
        guard depth <= PageLayout.maxDepth else {
            report(number, "tree deeper than \(PageLayout.maxDepth) levels")
            return nil
        }
        do {
            let page = try pages.page(number)
            reachablePages += 1
            guard page.u32(PageHeader.runLengthOffset) == 1 else {
                report(number, "tree page has run length \(page.u32(PageHeader.runLengthOffset))", offset: PageHeader.runLengthOffset)
                return nil
            }
            if !PageHeader.verify(page, pageNumber: number) {
                report(number, "page checksum mismatch", offset: 0)
            }
            let summary: Summary?
            switch page.u8(PageHeader.kindOffset) {
            case PageKind.leaf.rawValue: summary = try walkLeaf(LeafPageView(page, number: number), lower: lower, upper: upper)
            case PageKind.branch.rawValue: summary = try walkBranch(BranchPageView(page, number: number), lower: lower, upper: upper, depth: depth)
            default:
                report(number, "expected a branch or leaf page, found kind \(page.u8(PageHeader.kindOffset))", offset: PageHeader.kindOffset)
                return nil
            }
            if let summary { verified[number] = summary }
            return summary
        } catch let CowDBError.corrupt(page, offset, reason) {
            report(page ?? number, reason, offset: offset)
        } catch {
            report(number, "\(error)")
        }
        return nil
    }

    /// Verifies a leaf: key order, bounds, values.
    private func walkLeaf(_ leaf: LeafPageView, lower: [UInt8]?, upper: [UInt8]?) throws -> Summary {
        var figures = TreeFigures(depth: 1, leafPages: 1, entries: UInt64(leaf.count))
        var previous: [UInt8]?
        var first: [UInt8]?
        for i in 0 ..< leaf.count {
            let key = Array(try leaf.key(i))
            if key.isEmpty || key.count > maxKeySize { report(leaf.number, "key \(i) has length \(key.count)") }
            if key.withUnsafeBytes({ keyHead($0) }) != leaf.head(i) { report(leaf.number, "head \(i) does not match its key", offset: LeafPage.headOffset(i)) }
            if let previous, compareBytes(previous, key) >= 0 { report(leaf.number, "keys \(i - 1) and \(i) are out of order") }
            if first == nil { first = key }
            previous = key
            if case let .overflow(run, length) = try leaf.value(i) {
                figures.overflowPages += checkOverflow(run, length: length, leaf: leaf.number)
            }
        }
        checkBounds(leaf.number, first, previous, lower: lower, upper: upper)
        return Summary(first: first, last: previous, figures: figures)
    }

    /// Verifies an overflow run referenced from `leaf`; returns its page count.
    private func checkOverflow(_ run: PageNumber, length: Int, leaf: PageNumber) -> Int {
        do {
            guard length <= PageLayout.maxValueSize else {
                report(leaf, "overflow value length \(length) exceeds the maximum")
                return 0
            }
            let reader = PageReader(base: pages.base, limit: pages.limit, layout: pages.layout, verification: .everyRead)
            _ = try reader.overflowValue(page: run, length: length, below: leaf)
            let runLength = pages.layout.overflowRunLength(valueLength: length)
            for page in run ..< run + UInt64(runLength) {
                if let owner = overflowOwners[page], owner != run {
                    report(page, "overflow runs starting at \(owner) and \(run) overlap")
                    break
                }
                overflowOwners[page] = run
            }
            reachablePages += runLength
            return runLength
        } catch let CowDBError.corrupt(page, offset, reason) {
            report(page ?? run, reason, offset: offset)
        } catch {
            report(run, "\(error)")
        }
        return 0
    }

    /// Verifies a branch and its subtrees.
    private func walkBranch(_ branch: BranchPageView, lower: [UInt8]?, upper: [UInt8]?, depth: Int) throws -> Summary? {
        var separators: [[UInt8]?] = [lower]
        for i in 1 ..< branch.count {
            let key = Array(try branch.key(i))
            if key.isEmpty { report(branch.number, "separator \(i) is empty") }
            if let previous = separators.last ?? nil, compareBytes(previous, key) > 0 || (i > 1 && compareBytes(previous, key) == 0) {
                report(branch.number, "separators \(i - 1) and \(i) are out of order")
            }
            separators.append(key)
        }
        var figures = TreeFigures(branchPages: 1)
        var childDepth: Int?
        var first: [UInt8]?
        var last: [UInt8]?
        for i in 0 ..< branch.count {
            let child = try branch.child(i)
            let low = separators[i]
            let high = i + 1 < branch.count ? separators[i + 1] : upper
            guard let summary = walk(child, lower: low, upper: high, depth: depth + 1) else { continue }
            let depth = summary.figures.depth
            if let childDepth, childDepth != depth {
                report(branch.number, "child \(i) has depth \(depth), child 0 has \(childDepth): paths differ in length")
            }
            childDepth = childDepth ?? depth
            if summary.figures.entries == 0 { report(child, "empty subtree under branch \(branch.number)") }
            first = first ?? summary.first
            last = summary.last ?? last
            figures.entries += summary.figures.entries
            figures.branchPages += summary.figures.branchPages
            figures.leafPages += summary.figures.leafPages
            figures.overflowPages += summary.figures.overflowPages
        }
        figures.depth = (childDepth ?? 0) + 1
        return Summary(first: first, last: last, figures: figures)
    }

    /// Reports keys outside [lower, upper).
    private func checkBounds(_ page: PageNumber, _ first: [UInt8]?, _ last: [UInt8]?, lower: [UInt8]?, upper: [UInt8]?) {
        if let lower, let first, compareBytes(first, lower) < 0 {
            report(page, "first key is below the parent's separator")
        }
        if let upper, let last, compareBytes(last, upper) >= 0 {
            report(page, "last key is not below the next separator")
        }
    }

    /// Starts a new version: overflow overlap is judged within one version.
    package func beginVersion() {
        overflowOwners = [:]
        keyspace = nil
    }
}
