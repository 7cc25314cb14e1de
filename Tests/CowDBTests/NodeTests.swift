import CowDBTestSupport
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// The in-memory node against a model: every change keeps its entries, its size (what the
/// page would take) and its page image right, through arena growth, compaction, cuts and merges.
final class NodeTests: XCTestCase {
    /// A model entry: key and value.
    private typealias Entry = (key: [UInt8], value: TestLeafValue)

    /// The bytes a leaf of `entries` takes as a page.
    private func pageSize(of entries: [Entry]) -> Int {
        entries.reduce(PageHeader.size) { size, entry in
            switch entry.value {
            case let .inline(bytes): return size + LeafPage.entrySize(keyLength: entry.key.count, inlineValueLength: bytes.count)
            case .overflow: return size + LeafPage.entrySize(keyLength: entry.key.count, inlineValueLength: 8)
            }
        }
    }

    private func check(_ node: Node, _ model: [Entry], _ context: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(node.testKeys, model.map(\.key), context, file: file, line: line)
        XCTAssertEqual(node.testValues, model.map(\.value), context, file: file, line: line)
        XCTAssertEqual(node.size, pageSize(of: model), context, file: file, line: line)
        guard node.size <= 65536 else { return }
        // The page image loads back into the same entries.
        var page = [UInt8](repeating: 0, count: 65536)
        try page.withUnsafeMutableBytes { bytes in
            node.encode(into: bytes)
            PageHeader.seal(bytes, pageNumber: 9)
            let loaded = try Node.load(UnsafeRawBufferPointer(bytes), number: 9)
            XCTAssertEqual(loaded.testKeys, model.map(\.key), context, file: file, line: line)
            XCTAssertEqual(loaded.testValues, model.map(\.value), context, file: file, line: line)
            XCTAssertEqual(loaded.size, node.size, context, file: file, line: line)
        }
    }

    func testRandomChangesAgainstModel() throws {
        let seed = testSeed("node")
        var random = SeededGenerator(seed: seed)
        for round in 0 ..< 40 {
            // A small arena and table, so that growth and compaction happen often.
            var node = Node(isLeaf: true, capacity: 4, arenaCapacity: 64)
            var model: [Entry] = []
            for step in 0 ..< 300 {
                let key = (0 ..< Int.random(in: 0 ... 12, using: &random)).map { _ in UInt8.random(in: 0 ... 3, using: &random) }
                let value: TestLeafValue = Int.random(in: 0 ..< 8, using: &random) == 0
                    ? .overflow(page: UInt64.random(in: 1 ... 1 << 40, using: &random), length: Int.random(in: 0 ... 1 << 20, using: &random))
                    : .inline((0 ..< Int.random(in: 0 ... 40, using: &random)).map { _ in UInt8.random(in: 0 ... 255, using: &random) })
                let index = model.firstIndex { !$0.key.lexicographicallyPrecedes(key) } ?? model.count
                let found = index < model.count && model[index].key == key
                let context = "seed \(seed) round \(round) step \(step)"
                XCTAssertEqual(key.withUnsafeBytes { node.lowerBound($0).index }, index, context)
                XCTAssertEqual(key.withUnsafeBytes { node.lowerBound($0).found }, found, context)
                switch Int.random(in: 0 ..< 10, using: &random) {
                case 0 ..< 6:
                    key.withUnsafeBytes { key in
                        withStored(value) { stored in
                            if found { node.replaceValue(at: index, key: key, value: stored) } else { node.insert(at: index, key: key, value: stored) }
                        }
                    }
                    if found { model[index].value = value } else { model.insert((key, value), at: index) }
                case 6 ..< 8 where !model.isEmpty:
                    let at = Int.random(in: 0 ..< model.count, using: &random)
                    node.remove(at: at)
                    model.remove(at: at)
                case 8 where model.count >= 2:
                    // Cut, check both halves, then merge them back.
                    let at = Int.random(in: 1 ..< model.count, using: &random)
                    let (separator, right) = node.cut(at: at)
                    try check(node, Array(model[..<at]), context + " left")
                    try check(right, Array(model[at...]), context + " right")
                    XCTAssertTrue(model[at - 1].key.lexicographicallyPrecedes(separator), context)
                    XCTAssertFalse(model[at].key.lexicographicallyPrecedes(separator), context)
                    node.append(right, separator: UnsafeRawBufferPointer(start: nil, count: 0))
                default:
                    // Reload from the page image.
                    guard node.size <= 65536 else { break }
                    var page = [UInt8](repeating: 0, count: 65536)
                    node = try page.withUnsafeMutableBytes { bytes in
                        node.encode(into: bytes)
                        return try Node.load(UnsafeRawBufferPointer(bytes), number: 9)
                    }
                }
                try check(node, model, context)
            }
        }
    }

    func testBranchSeparatorsAndChildren() throws {
        let keys: [[UInt8]] = [[], Array("b".utf8), Array("cat".utf8), Array("dog".utf8), Array("emu".utf8)]
        let node = makeBranchNode(keys, children: [1, 2, 3, 4, 5])
        XCTAssertEqual(Array("d".utf8).withUnsafeBytes { node.childIndex($0) }, 2)
        XCTAssertEqual(Array("a".utf8).withUnsafeBytes { node.childIndex($0) }, 0)
        XCTAssertEqual(Array("zzz".utf8).withUnsafeBytes { node.childIndex($0) }, 4)
        let (separator, right) = node.cut(at: 2)
        XCTAssertEqual(separator, Array("cat".utf8))
        XCTAssertEqual(node.testKeys, [[], Array("b".utf8)])
        XCTAssertEqual(right.testKeys, [[], Array("dog".utf8), Array("emu".utf8)])
        XCTAssertEqual(node.size, PageHeader.size + 2 * 20 + 1)
        XCTAssertEqual(right.size, PageHeader.size + 3 * 20 + 6)
        XCTAssertEqual(right.children.count, 3)
        separator.withUnsafeBytes { node.append(right, separator: $0) }
        XCTAssertEqual(node.testKeys, keys)
        XCTAssertEqual(node.size, PageHeader.size + 5 * 20 + 1 + 3 + 3 + 3)
        Array("cow".utf8).withUnsafeBytes { node.setSeparator(2, $0) }
        XCTAssertEqual(node.testKeys[2], Array("cow".utf8))
        node.remove(at: 0)
        XCTAssertEqual(node.testKeys, [[], Array("cow".utf8), Array("dog".utf8), Array("emu".utf8)])
        XCTAssertEqual(node.size, PageHeader.size + 4 * 20 + 3 + 3 + 3)
    }

    /// A hostile leaf whose entry is larger than a quarter page (writers never make one: a split
    /// could then leave a half larger than a page) is refused when loaded, not copied.
    func testLoadRefusesEntriesLargerThanAQuarterPage() throws {
        let node = makeLeafNode([(Array("k".utf8), .inline([UInt8](repeating: 7, count: 2000)))])
        var page = [UInt8](repeating: 0, count: 4096)
        page.withUnsafeMutableBytes { node.encode(into: $0); PageHeader.seal($0, pageNumber: 9) }
        XCTAssertThrowsError(try page.withUnsafeBytes { try Node.load($0, number: 9) }) { error in
            guard case CowDBError.corrupt(page: 9, _, _) = error else { return XCTFail("expected corrupt at page 9, got \(error)") }
        }
        // Within the limit it loads.
        let fits = makeLeafNode([(Array("k".utf8), .inline([UInt8](repeating: 7, count: 990)))])
        page = [UInt8](repeating: 0, count: 4096)
        page.withUnsafeMutableBytes { fits.encode(into: $0) }
        XCTAssertEqual(try page.withUnsafeBytes { try Node.load($0, number: 9) }.size, fits.size)
    }

    /// Calls `body` with the engine's form of a test value.
    private func withStored(_ value: TestLeafValue, _ body: (StoredValue) -> Void) {
        switch value {
        case let .inline(bytes): bytes.withUnsafeBytes { body(.inline($0)) }
        case let .overflow(page, length): body(.overflow(page: page, length: length))
        }
    }
}
