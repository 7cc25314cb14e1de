@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// A leaf value as tests spell it (the engine's `StoredValue` holds views, not bytes).
enum TestLeafValue: Equatable {
    case inline([UInt8])
    case overflow(page: PageNumber, length: Int)
}

/// A leaf node holding `entries` in the given (key) order, built through the writer's own calls.
func makeLeafNode(_ entries: [([UInt8], TestLeafValue)], pageSize: Int = 4096) -> Node {
    let node = Node(isLeaf: true, arenaCapacity: pageSize)
    for (key, value) in entries {
        key.withUnsafeBytes { key in
            switch value {
            case let .inline(bytes): bytes.withUnsafeBytes { node.insert(at: node.count, key: key, value: .inline($0)) }
            case let .overflow(page, length): node.insert(at: node.count, key: key, value: .overflow(page: page, length: length))
            }
        }
    }
    return node
}

/// A branch node with separators `keys` (keys[0] should be empty) over `children`.
func makeBranchNode(_ keys: [[UInt8]], children: [PageNumber], pageSize: Int = 4096) -> Node {
    let node = Node(isLeaf: false, arenaCapacity: pageSize)
    for (i, key) in keys.enumerated() {
        key.withUnsafeBytes { node.insert(at: i, key: $0, child: .page(children[i])) }
    }
    return node
}

extension Node {
    /// The keys, copied.
    var testKeys: [[UInt8]] { (0 ..< count).map { Array(key($0)) } }

    /// The leaf values, copied.
    var testValues: [TestLeafValue] {
        (0 ..< count).map {
            switch value($0) {
            case let .inline(bytes): return .inline(Array(bytes))
            case let .overflow(page, length): return .overflow(page: page, length: length)
            }
        }
    }
}
