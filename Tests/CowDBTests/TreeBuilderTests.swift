import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// The bottom-up builder: trees built from sorted entries pass `check()`, read back the
/// entries exactly, and have the expected shape — every page but the last of its level full
/// to the packing target, suffix-truncated separators between leaves.
final class TreeBuilderTests: XCTestCase {
    /// Commits a version of `db` whose default keyspace is built from `entries` (sorted).
    private func commitBuilt(_ db: Database, _ entries: [(key: [UInt8], value: [UInt8])]) throws -> (root: PageNumber, count: UInt64, pages: Int) {
        var built: (root: PageNumber, count: UInt64, pages: Int) = (0, 0, 0)
        try db.withWriterGate { _, _ in
            let generation = db.generation
            let region = try generation.beginCommit(verifyEveryRead: false, bufferBytes: Database.buildBufferBytes)
            _ = try db.commit(region, in: generation, stamp: .next) {
                let builder = TreeBuilder(sink: region.appender)
                for (key, value) in entries {
                    XCTAssertTrue(key.withUnsafeBytes { builder.follows($0) })
                    try key.withUnsafeBytes { key in try value.withUnsafeBytes { try builder.add(key, $0) } }
                }
                if let last = entries.last { XCTAssertFalse(last.key.withUnsafeBytes { builder.follows($0) }) }
                let (root, count) = try builder.finish()
                built = (root, count, builder.pagesWritten)
                return CommitRoots(catalogRoot: 0, defaultRoot: built.root, defaultCount: built.count, totalCount: built.count)
            }
        }
        return built
    }

    /// Builds `entries` into a fresh database and verifies the result: check, content, shape.
    private func buildAndVerify(_ entries: [(key: [UInt8], value: [UInt8])], pageSize: Int = 4096, _ label: String) throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        options.pageSize = pageSize
        let db = try openDatabase(path: directory.path("built"), options: options)
        let built = try commitBuilt(db, entries)
        XCTAssertEqual(built.count, UInt64(entries.count), label)
        XCTAssertEqual(built.root == 0, entries.isEmpty, label)
        XCTAssertNoThrow(try db.check(), label)
        let scanned = try db.read { txn in try txn.scan().map { ($0.key, $0.value) } }
        XCTAssertEqual(scanned.count, entries.count, label)
        XCTAssertTrue(zip(scanned, entries).allSatisfy { $0.0 == $1.key && $0.1 == $1.value }, label)
        XCTAssertEqual(try db.read { try $0.count }, UInt64(entries.count), label)
        let stats = try db.stats().keyspaces[0] // every page written is in the tree
        XCTAssertEqual(stats.leafPages + stats.branchPages, built.pages, label)
        if built.root != 0 { try verifyShape(db, root: built.root, label) }
        try db.checkAndClose()
    }

    /// Every page but the last of its level is full: it is within the fill target, and the
    /// next page's first entry would not have fitted. Leaf separators are the shortest ones.
    private func verifyShape(_ db: Database, root: PageNumber, _ label: String) throws {
        let pages = try db.read { $0.pages }
        let target = TreeBuilder.fillTarget(PageLayout(pageSize: db.pageSize))
        // Per level (0: the root), the pages left to right with their size, the size their
        // first entry would add to the page on their left, and (branches of two children, which
        // may have borrowed the left one's last child) the size of their separator 1.
        var levels: [[(page: PageNumber, size: Int, firstEntry: Int, borrowed: Int?)]] = []
        func walk(_ number: PageNumber, separator: [UInt8]?, depth: Int) throws {
            if levels.count == depth { levels.append([]) }
            let page = try pages.page(number)
            if page.u8(PageHeader.kindOffset) == PageKind.leaf.rawValue {
                let leaf = try LeafPageView(page, number: number)
                let first = LeafPage.entrySize(ofCell: try leaf.cell(0))
                levels[depth].append((number, try leaf.storedSize(), first, nil))
                return
            }
            let branch = try BranchPageView(page, number: number)
            var size = PageHeader.size + BranchPage.entrySize(keyLength: 0)
            for i in 1 ..< branch.count { size += BranchPage.entrySize(keyLength: try branch.key(i).count) }
            let borrowed = branch.count == 2 ? BranchPage.entrySize(keyLength: try branch.key(1).count) : nil
            levels[depth].append((number, size, BranchPage.entrySize(keyLength: separator?.count ?? 0), borrowed))
            XCTAssertGreaterThanOrEqual(branch.count, 2, "\(label): branch \(number)")
            for i in 0 ..< branch.count {
                let child = try branch.child(i)
                XCTAssertLessThan(child, number, "\(label): child below its parent")
                let key = i == 0 ? separator : Array(try branch.key(i))
                if i > 0, try pages.page(child).u8(PageHeader.kindOffset) == PageKind.leaf.rawValue {
                    try checkLeafSeparator(pages, left: try branch.child(i - 1), right: child, separator: key!, label)
                }
                try walk(child, separator: key, depth: depth + 1)
            }
        }
        try walk(root, separator: nil, depth: 0)
        for (depth, level) in levels.enumerated() {
            for (i, node) in level.enumerated() {
                XCTAssertLessThanOrEqual(node.size, target, "\(label): level \(depth) page \(i) over the target")
                guard i + 1 < level.count else { continue }
                let next = level[i + 1]
                // Full; or the last but one of its level, whose last child its neighbour borrowed.
                let full = node.size + next.firstEntry > target
                let lentOne = i + 2 == level.count && next.borrowed.map { node.size + next.firstEntry + $0 > target } == true
                XCTAssertTrue(full || lentOne, "\(label): level \(depth) page \(i) of \(level.count) not full")
            }
        }
    }

    /// The separator between two neighbouring leaves is the shortest prefix of the right
    /// leaf's first key above the left leaf's last key.
    private func checkLeafSeparator(_ pages: PageReader, left: PageNumber, right: PageNumber, separator: [UInt8], _ label: String) throws {
        let leftLeaf = try LeafPageView(try pages.page(left), number: left)
        let rightLeaf = try LeafPageView(try pages.page(right), number: right)
        let expected = Node.shortestSeparator(after: try leftLeaf.key(leftLeaf.count - 1), upTo: try rightLeaf.key(0))
        XCTAssertEqual(separator, expected, "\(label): separator between leaves \(left) and \(right)")
    }

    /// `count` distinct random keys of 1...`maxKey` bytes, sorted, with values of up to `maxValue` bytes.
    private func randomEntries(_ count: Int, maxKey: Int, maxValue: Int, _ random: inout SeededGenerator) -> [(key: [UInt8], value: [UInt8])] {
        var keys = Set<[UInt8]>()
        while keys.count < count { keys.insert(random.bytes(1 + Int(random.next() % UInt64(maxKey)))) }
        return keys.sorted { $0.lexicographicallyPrecedes($1) }.map { ($0, random.bytes(Int(random.next() % UInt64(maxValue + 1)))) }
    }

    func testEmptyAndSingleEntryTrees() throws {
        try buildAndVerify([], "empty")
        try buildAndVerify([(b("only"), b("one"))], "one entry")
        try buildAndVerify([(b("k"), [])], "one empty value")
    }

    /// Entries of one size: exactly one full leaf, one more, exactly k full leaves, and
    /// enough for three levels.
    func testExactlyFullPages() throws {
        let layout = PageLayout(pageSize: 4096)
        let entrySize = LeafPage.entrySize(keyLength: 8, inlineValueLength: 41) // 66 bytes
        let perLeaf = (TreeBuilder.fillTarget(layout) - PageHeader.size) / entrySize
        func entries(_ n: Int) -> [(key: [UInt8], value: [UInt8])] {
            (0 ..< n).map { i in (withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) }, [UInt8](repeating: UInt8(i & 0xFF), count: 41)) }
        }
        for n in [perLeaf - 1, perLeaf, perLeaf + 1, 2 * perLeaf, 7 * perLeaf, 7 * perLeaf + 1, 300 * perLeaf, 300 * perLeaf + 1] {
            try buildAndVerify(entries(n), "\(n) entries of \(entrySize) bytes (\(perLeaf) a leaf)")
        }
    }

    /// Random sorted inputs of many sizes, short and long keys, inline and overflow values.
    func testRandomSortedInputs() throws {
        let seed = testSeed("tree-builder")
        var random = SeededGenerator(seed: seed)
        for count in [2, 3, 17, 100, 1_000, 5_000] {
            try buildAndVerify(randomEntries(count, maxKey: 40, maxValue: 200, &random), "seed \(seed): \(count) short keys")
        }
        let maxKey = PageLayout(pageSize: 4096).maxKeySize
        try buildAndVerify(randomEntries(400, maxKey: maxKey, maxValue: 300, &random), "seed \(seed): long keys")
        try buildAndVerify(randomEntries(3_000, maxKey: 600, maxValue: 50, &random), "seed \(seed): long keys, deep branches")
        try buildAndVerify(randomEntries(300, maxKey: 30, maxValue: 20_000, &random), "seed \(seed): large values")
        try buildAndVerify(randomEntries(2_000, maxKey: 2_000, maxValue: 70_000, &random), pageSize: 16_384, "seed \(seed): 16 KiB pages")
    }

    /// Keys at the length limit beside values just under and over the inline limit.
    func testLongestKeysAndInlineLimit() throws {
        let layout = PageLayout(pageSize: 4096)
        var entries: [(key: [UInt8], value: [UInt8])] = []
        for i in 0 ..< 200 {
            var key = [UInt8](repeating: 0x61, count: layout.maxKeySize)
            key.replaceSubrange(layout.maxKeySize - 4 ..< layout.maxKeySize, with: withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) })
            let inlineLimit = layout.maxEntrySize - LeafPage.entrySize(keyLength: key.count, inlineValueLength: 0)
            entries.append((key, [UInt8](repeating: UInt8(i & 0xFF), count: max(0, inlineLimit + (i % 3) - 1))))
        }
        try buildAndVerify(entries, "longest keys")
    }
}
