import CowDBFormat
import CowDBStorage
import CowDBTree

// `check` of packed versions (docs/PACKED-HISTORY.md). The pack commit holding them is checked
// once per check: its page, its region (every run, and the region checksum), its version
// table, its history tree as a tree (with the history tree's longer keys) and entry by entry
// (`HistoryTreeCheck`: keys, values, versions, catalog counts against the pairs). Each packed
// version then only has to agree with it: its total count is what the history says.

extension Database {
    /// Checks the packed version `source` reads (`target`), and its pack commit the first time
    /// one of its versions is checked (`packs` remembers each pack's totals per version).
    func checkPacked(_ source: ReadSource, _ packed: PackedVersion, _ checker: TreeChecker, packs: inout [PageNumber: [UInt64: UInt64]]) {
        guard let commit = source.commit else { return }
        if packs[commit.page] == nil {
            packs[commit.page] = checkPack(source, commit, checker)
        }
        checker.beginVersion()
        if let total = packs[commit.page]?[packed.version], total != packed.totalCount {
            checker.report(commit.page, "version \(packed.version): the history holds \(total) entries, the index says \(packed.totalCount)")
        }
    }

    /// Checks the pack commit `commit`; returns the total count of each version it holds.
    private func checkPack(_ source: ReadSource, _ commit: CommitPoint, _ checker: TreeChecker) -> [UInt64: UInt64] {
        checker.beginVersion()
        let pageSize = store.layout.pageSize
        let record = commit.record
        let page = UnsafeRawBufferPointer(start: source.mapping.base + Int(commit.page) * pageSize, count: pageSize)
        if !PageHeader.verify(page, pageNumber: commit.page) { checker.report(commit.page, "pack commit checksum mismatch") }
        checkRegion(source, checker, version: record.version)
        let table: [VersionTable.Entry]
        do { table = try Recovery.versionTable(of: record, page: commit.page, base: source.mapping.base, pageSize: pageSize) } catch {
            checker.report(commit.page, "pack commit's version table: \(error)")
            return [:]
        }
        let keyLimit = checker.maxKeySize
        checker.maxKeySize = store.layout.historyMaxKeySize
        _ = checker.checkTree(root: record.catalogRoot, keyspace: "(history)", below: commit.page)
        checker.maxKeySize = keyLimit
        let versions = table.map(\.version)
        let totals = HistoryTreeCheck.run(root: record.catalogRoot, versions: versions, afterPack: try? firstVersion(after: record.version),
                                          checker: checker)
        checker.beginVersion()
        for entry in table where totals[entry.version, default: 0] != entry.totalCount {
            checker.report(commit.page, "version \(entry.version): the history holds \(totals[entry.version, default: 0]) entries, the version table says \(entry.totalCount)")
        }
        return totals
    }

    /// `stats` of a packed version: its keyspaces' entries (it has no trees of its own: pages
    /// and depth are 0), and as live bytes the pack that holds it (its history is shared by
    /// every packed version).
    func packedStats(_ source: ReadSource) throws -> DatabaseStats {
        let txn = ReadTransaction(source: source)
        defer { txn.invalidate() }
        var keyspaces = [KeyspaceStats(name: nil, entries: try txn.count)]
        for name in try txn.keyspaces() { keyspaces.append(KeyspaceStats(name: name, entries: try txn.keyspace(name).count())) }
        if let error = txn.pendingError { throw error }
        let pageSize = store.layout.pageSize
        var stats = DatabaseStats(version: source.version, pageSize: pageSize, versionCount: try versions().count,
                                  fileBytes: try store.file.length(), liveBytes: ((source.commit?.page ?? 0) + 1) * UInt64(pageSize),
                                  keyspaces: keyspaces, catalogPages: 0)
        // One read of the length for both figures: a top-up between two reads could otherwise
        // report more reserve than file.
        let tail = try dataFileTail()
        (stats.fileBytes, stats.reserveBytes) = (tail.fileBytes, tail.reserveBytes)
        return stats
    }

    /// The first version after `version` in the index (nil: none).
    private func firstVersion(after version: UInt64) throws -> UInt64? {
        let index = try currentGeneration().view().index
        guard let position = try index.position(of: version), position + 1 < index.count else { return nil }
        return try index.record(position + 1).version
    }
}
