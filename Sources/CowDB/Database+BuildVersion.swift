import CowDBFormat
import CowDBStorage
import CowDBTree

// Writing a whole version as one commit whose trees are built bottom-up (`TreeBuilder`) from
// another version's entries in key order: compaction's copy of the oldest version it keeps.
// No page goes through an insert, a split or the rebalance at commit; every page is written
// once, full to the engine's packing target, into a write buffer of `buildBufferBytes`, so the
// new file is written in MiB-sized `pwrite`s with each page's checksum sealed in the buffer.
// 1 MiB: measured on a 115 MB copy, 256 KiB to 1 MiB buffers copy about as fast (0.32–0.35 s),
// 4 MiB and 16 MiB ones are slower (0.34–0.40 s, 0.39–0.47 s): a buffer that stays in the CPU's
// cache is copied into the page cache faster.
// The commit is an ordinary one, made by `Generation.commit` (the builder is its step 1):
// what it appended is cut off if anything fails before the commit record is durable.

extension Database {
    /// Bytes of the write buffer of a built commit: the size of its `pwrite`s.
    static let buildBufferBytes = 1 << 20

    /// Commits version `version` of `source` into this database (compaction's new generation)
    /// under `forced`'s number and time, every tree of it built bottom-up: the named
    /// keyspaces in name order, the default keyspace, then the catalog naming their roots.
    func commitBuilt(_ forced: WriteTransaction.ForcedCommit, copying version: UInt64, of source: Database) throws {
        let stamp = CommitStamp(carried: (forced.version, forced.timestamp), rolledBackFrom: forced.rolledBackFrom)
        try commitBuilding(stamp: stamp) { sink, _ in
            try source.read(at: version) { txn in try Self.buildTrees(of: txn, into: sink) }
        }
    }

    /// One commit, under the writer gate, whose trees `build` writes bottom-up through the
    /// commit's sink (buffered by `buildBufferBytes`) given the latest commit; `build` is the
    /// commit's step 1 and returns the roots and counts.
    func commitBuilding(stamp: CommitStamp, _ build: (any PageSink, CommitPoint?) throws -> CommitRoots) throws {
        try withWriterGate { latest, _ in
            let generation = self.generation
            let region = try generation.beginCommit(verifyEveryRead: options.checksumVerification == .everyRead,
                                                    bufferBytes: Self.buildBufferBytes)
            _ = try commit(region, in: generation, stamp: stamp) { try build(region.appender, latest) }
        }
    }

    /// Builds the catalog naming `keyspaces` (in byte order of their names); returns its root.
    static func buildCatalog(_ keyspaces: [(name: [UInt8], value: CatalogValue)], into sink: any PageSink) throws -> PageNumber {
        let builder = TreeBuilder(sink: sink)
        for (name, value) in keyspaces {
            try name.withUnsafeBytes { name in try value.encoded().withUnsafeBytes { try builder.add(name, $0) } }
        }
        return try builder.finish().root
    }

    /// Builds every tree of the version `txn` reads through `sink`; returns the roots and counts.
    static func buildTrees(of txn: ReadTransaction, into sink: any PageSink) throws -> CommitRoots {
        var catalog: [(name: [UInt8], value: CatalogValue)] = []
        var totalCount: UInt64 = 0
        // The catalog's order (bytes of the name), which `keyspaces()` lists and checks.
        for name in try txn.keyspaces() {
            try Keyspace.validate(name: name) // a damaged catalog's name (empty, too long) is an error, not a trap
            let (root, count) = try buildTree(of: txn, keyspace: name, into: sink)
            catalog.append((Array(name.utf8), CatalogValue(root: root, count: count)))
            totalCount &+= count
        }
        let (defaultRoot, defaultCount) = try buildTree(of: txn, keyspace: nil, into: sink)
        return CommitRoots(catalogRoot: try buildCatalog(catalog, into: sink), defaultRoot: defaultRoot, defaultCount: defaultCount,
                           totalCount: totalCount &+ defaultCount)
    }

    /// Builds keyspace `name`'s tree (nil: the default keyspace) from its entries in `txn`.
    /// The entries come from a file, so what the builder would refuse as a programmer's error
    /// (a key out of order or of a length no writer stores) is thrown as damage here, before
    /// the builder sees it (the walk checks order too; this check does not depend on it).
    private static func buildTree(of txn: ReadTransaction, keyspace name: String?, into sink: any PageSink) throws -> (PageNumber, UInt64) {
        let builder = TreeBuilder(sink: sink)
        let maxKeySize = sink.layout.maxKeySize
        try txn.withEntries(in: name, from: nil, to: nil, limit: .max) { key, value in
            guard key.count > 0, key.count <= maxKeySize, value.count <= PageLayout.maxValueSize, builder.follows(key) else {
                throw CowDBError.corrupt(page: nil, offset: nil, reason: "keyspace \(name.map { "\"\($0)\"" } ?? "default"): "
                                         + "a key of \(key.count) bytes out of order or length, or a value of \(value.count) bytes")
            }
            try builder.add(key, value)
            return true
        }
        let built = try builder.finish()
        return (built.root, built.count)
    }
}
