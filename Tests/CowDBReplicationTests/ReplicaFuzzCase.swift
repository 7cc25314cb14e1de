import CowDB
import CowDBFormat
import CowDBStorage
import Foundation
#if canImport(CowDBReplication)
@testable import CowDBReplication
#endif

// One input of the replica fuzzer (Tools/cowdb-fuzz, target cowdb-fuzz-replica), shared with
// the tests that replay its seeds: what a restore does with bytes from a bucket, without the
// network. The input stands for a manifest or for a generation's segments; whatever it holds,
// the only acceptable outcomes are a thrown error, or a database that opens and checks clean.
//
// Input layout:
//
//   offset size field
//   0      1    flags   bit 0: the rest is a manifest (JSON), decoded; else a data-file image,
//                       bytes [0, n) of the generation its header names (n rounded down to
//                       4096-byte pages)
//                       bits 1-3: S; the image is shipped as two segments, split after
//                       commit ⌊commits × S / 8⌋ where the whole image verifies, else at page
//                       ⌊pages × S / 8⌋ (S = 0: one segment)
//   1      …    bytes

enum ReplicaFuzzCase {
    /// Runs one input in `scratch` (a directory it may replace).
    static func run(_ input: UnsafeRawBufferPointer, scratch: String) {
        guard let flags = input.first else { return }
        let body = Array(input.dropFirst())
        if flags & 1 != 0 {
            _ = try? ReplicaManifest.decode(body, key: "manifest.json")
            return
        }
        try? FileManager.default.removeItem(atPath: scratch)
        _ = try? restore(body, split: Int(flags >> 1 & 7), into: scratch)
    }

    /// Verifies `image` as one or two segments, writes what verifies as a replica would, then
    /// opens the result and reads every version.
    static func restore(_ image: [UInt8], split: Int, into path: String) throws {
        let pageSize = 4096
        let pages = image.count / pageSize
        guard pages >= 2 else { return }
        let header = try image.withUnsafeBytes { try FileHeader.decode($0, path: "fuzz") }
        guard header.pageSize == pageSize else { return }
        var cut = split == 0 ? pages : min(pages, max(1, pages * split / 8))
        // A replicator cuts segments at commits: where the image verifies, split after commit
        // ⌊commits × S / 8⌋ instead.
        if split != 0, let all = try? image.withUnsafeBytes({ buffer in
            try SegmentVerifier.commits(of: UnsafeRawBufferPointer(rebasing: buffer[0 ..< pages * pageSize]), start: 0,
                                        generation: header.generation, database: header.uuid.uuidString, pageSize: pageSize,
                                        after: nil, object: "fuzz")
        }), all.count >= 2 {
            cut = Int(all[min(all.count - 2, all.count * split / 8)].page) + 1
        }
        let writer = try ReplicaWriter(path: path)
        defer { writer.close() }
        try writer.beginGeneration(header.generation, pageSize: pageSize)
        var anchor: CommitPoint?
        for range in [0 ..< cut, cut ..< pages] where !range.isEmpty {
            let bytes = Array(image[range.lowerBound * pageSize ..< range.upperBound * pageSize])
            let commits = try bytes.withUnsafeBytes { buffer in
                try SegmentVerifier.commits(of: buffer, start: UInt64(range.lowerBound * pageSize), generation: header.generation,
                                            database: header.uuid.uuidString, pageSize: pageSize, after: anchor, object: "fuzz")
            }
            try writer.append(bytes, commits: commits)
            anchor = commits.last
        }
        try writer.finishGeneration()
        writer.close()
        let database = try Database(path: path) // unchecked-open: the fuzzer's result, checked below
        defer { try? database.close() }
        _ = try database.check()
        for info in try database.versions() {
            try database.read(at: info.version) { txn in
                for _ in try txn.scan() {}
                for name in try txn.keyspaces() { for _ in try txn.keyspace(name).scan() {} }
            }
        }
    }
}
