import CowDBTestSupport
import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// The first size figure of packed history (docs/PACKED-HISTORY.md, "Measured"): 10,000 keys
/// (24-byte random keys, 150-byte values), then 10,000 single-key overwrite commits; the
/// history tree of every version against the source file, the changed pairs and a fresh load.
/// Opt-in (COWDB_HISTORY_SIZE=1): it makes 10,000 commits and prints figures.
final class HistorySizeTests: XCTestCase {
    /// Bytes of the files in `directory` whose name starts with `prefix`.
    private func bytes(in directory: String, prefix: String) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(prefix) }.reduce(0) {
            $0 + ((try FileManager.default.attributesOfItem(atPath: directory + "/" + $1)[.size] as? Int) ?? 0)
        }
    }

    /// A megabyte figure for printing.
    private func mb(_ bytes: Int) -> String { String(format: "%.2f MB", Double(bytes) / 1e6) }

    func testHistoryTreeSizeOfTenThousandOverwrites() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["COWDB_HISTORY_SIZE"] == "1", "set COWDB_HISTORY_SIZE=1 to measure")
        let seed = testSeed("history-size")
        var random = SeededGenerator(seed: seed)
        // The issue's item 3 shape (as many keys as commits), then the bench's history shape (N/10 keys, N commits).
        try measure(keyCount: 10_000, commits: 10_000, &random)
        try measure(keyCount: 1_000, commits: 10_000, &random)
    }

    /// Loads `keyCount` keys, makes `commits` single-key overwrites, builds the history tree of
    /// every version with 4 KiB and 64 KiB pages, and prints its size against the targets.
    private func measure(keyCount: Int, commits: Int, _ random: inout SeededGenerator) throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let source = try openDatabase(path: directory.path("source"), options: options)
        let keys = (0 ..< keyCount).map { _ in random.bytes(24) }
        try source.write { txn in for key in keys { try txn.put(key, random.bytes(150)) } }
        for _ in 0 ..< commits {
            let key = keys.randomElement(using: &random)!, value = random.bytes(150)
            try source.write { try $0.put(key, value) }
        }
        let last = try source.versions().last!.version
        let changedPairs = commits * (24 + 150)
        try source.copy(to: directory.path("fresh"))
        let freshLoad = try bytes(in: directory.path("fresh"), prefix: "data")
        let clock = ContinuousClock.now
        let entries = try source.historyEntries(from: 1, through: last)
        XCTAssertEqual(entries.count, keyCount + commits, "the load's pairs and one change per commit")
        print("history size, \(keyCount) keys + \(commits) commits: source data file \(mb(try bytes(in: directory.path("source"), prefix: "data"))), "
              + "changed pairs \(mb(changedPairs)), fresh load \(mb(freshLoad)), entries collected and sorted in \(ContinuousClock.now - clock)")
        for pageSize in [4096, 65536] {
            var targetOptions = options
            targetOptions.pageSize = pageSize
            let target = try openDatabase(path: directory.path("history-\(pageSize)"), options: targetOptions)
            let built = try target.commitHistoryTree(entries, asKeyspace: "history")
            let (tree, bench, item3) = (built.pages * pageSize, 2 * changedPairs + freshLoad, 2 * changedPairs + 3 * freshLoad)
            print("history size, \(pageSize / 1024) KiB pages: history tree \(built.pages) pages = \(mb(tree)) "
                  + "(\(tree / entries.count) bytes an entry); + fresh load = \(mb(tree + freshLoad)): "
                  + String(format: "%.2f × (2 × changed + fresh), %.2f × (2 × changed + 3 × fresh)",
                           Double(tree + freshLoad) / Double(bench), Double(tree + freshLoad) / Double(item3)))
            try checkLatest(of: source, against: target, root: built.root, version: last, keys: keys.prefix(200))
            try target.close()
        }
        try source.close()
    }

    /// Gets of `keys` at `version` from the history tree equal the source's.
    private func checkLatest(of source: Database, against target: Database, root: PageNumber, version: UInt64,
                             keys: ArraySlice<[UInt8]>) throws {
        let expected = try source.read(at: version) { txn in try keys.map { try txn.get($0) } }
        try target.read { txn in
            for (key, value) in zip(keys, expected) {
                let found = try key.withUnsafeBytes { try HistoryCursor.get(rootPage: root, pages: txn.pages, keyspace: [], key: $0, version: version) }
                XCTAssertEqual(try found.map { try BTree.withBytes(of: $0, pages: txn.pages) { Array($0) } }, value)
            }
        }
    }
}
