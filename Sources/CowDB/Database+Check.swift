import CowDBFormat
import CowDBStorage
import CowDBTree
// `check()` and `stats()`: walk the trees of a version (or of all versions), verifying every
// checksum and B-tree invariant and counting pages.

/// What `check` found.
public struct CheckReport: Sendable {
    /// The versions walked.
    public var versions: [UInt64] = []
    /// Every problem found, with its location.
    public var problems: [CheckProblem] = []
    /// Distinct pages verified.
    public var pagesVerified = 0
    /// Whether nothing was wrong.
    public var isClean: Bool { problems.isEmpty }
}

/// Page and entry figures of one keyspace at one version.
public struct KeyspaceStats: Sendable, Equatable {
    /// The keyspace's name (nil: the default keyspace).
    public var name: String?
    /// Levels from root to leaf (0: empty).
    public var depth = 0
    /// Branch pages.
    public var branchPages = 0
    /// Leaf pages.
    public var leafPages = 0
    /// Pages in overflow runs.
    public var overflowPages = 0
    /// Entries.
    public var entries: UInt64 = 0
}

/// Figures of a database at one version.
public struct DatabaseStats: Sendable {
    /// The version described.
    public var version: UInt64
    /// Page size in bytes.
    public var pageSize: Int
    /// Committed versions in the file.
    public var versionCount: Int
    /// Length of the data file in bytes (with the reserve).
    public var fileBytes: UInt64
    /// Bytes of the file this version reaches (its pages, the catalog, the commit record, the header).
    public var liveBytes: UInt64
    /// Keyspaces: the default one first, then the named ones in byte order.
    public var keyspaces: [KeyspaceStats]
    /// Pages of the catalog tree.
    public var catalogPages: Int
    /// Zero bytes past the latest commit (`DataFileTail.reserveBytes`): the reserve a durable
    /// writer keeps so that its commits overwrite blocks the file already has.
    public var reserveBytes: UInt64 = 0
    /// File bytes (without the reserve) per live byte (1.0: no space held by old versions).
    public var spaceAmplification: Double { liveBytes == 0 ? 0 : Double(fileBytes - min(fileBytes, reserveBytes)) / Double(liveBytes) }
}

extension Database {
    /// Verifies a version (default: the latest) or every version, and throws `corrupt` naming
    /// the first problem (and how many there are) when anything is wrong.
    @discardableResult
    public func check(version: UInt64? = nil, allVersions: Bool = false) throws -> CheckReport {
        let report = try checkReport(version: version, allVersions: allVersions)
        if let first = report.problems.first {
            let more = report.problems.count > 1 ? " (and \(report.problems.count - 1) more problems)" : ""
            throw CowDBError.corrupt(page: first.page, offset: first.offset, reason: first.message + more)
        }
        return report
    }

    /// Verifies a version (default: the latest) or every version and lists every problem.
    public func checkReport(version: UInt64? = nil, allVersions: Bool = false) throws -> CheckReport {
        let latest = try currentSource()
        var report = CheckReport()
        let checker = TreeChecker(pages: PageReader(base: latest.mapping.base, limit: max(1, (latest.commit?.page ?? 0) + 1),
                                                    layout: latest.pages.layout, verification: .unverified))
        var targets: [UInt64]
        if allVersions {
            targets = try versions().map(\.version)
        } else {
            targets = [version ?? latest.version]
        }
        targets.removeAll { $0 == 0 }
        var packs: [PageNumber: [UInt64: UInt64]] = [:]
        for target in targets {
            let source: ReadSource
            do { source = try self.source(at: target) } catch let error as CowDBError {
                if case .versionNotFound = error, !allVersions { throw error }
                checker.beginVersion()
                if case let .corrupt(page, offset, reason) = error {
                    checker.report(page, "version \(target): \(reason)", offset: offset)
                } else {
                    checker.report(nil, "version \(target): \(error)")
                }
                continue
            }
            report.versions.append(target)
            if let packed = source.packed {
                checkPacked(source, packed, checker, packs: &packs)
                continue
            }
            checker.beginVersion()
            _ = walk(source, checker)
            checkRegion(source, checker, version: target)
        }
        if let reserve = try reserveProblem() { checker.report(reserve.page, reserve.message) }
        report.problems = checker.problems
        report.pagesVerified = checker.reachablePages
        return report
    }

    /// Figures for a version (default: the latest); throws `corrupt` if the walk finds damage.
    public func stats(version: UInt64? = nil) throws -> DatabaseStats {
        let source = try version.map { try self.source(at: $0) } ?? currentSource()
        if source.packed != nil { return try packedStats(source) }
        let checker = TreeChecker(pages: PageReader(base: source.mapping.base, limit: max(1, (source.commit?.page ?? 0) + 1),
                                                    layout: source.pages.layout, verification: .unverified))
        let (keyspaces, catalogPages) = walk(source, checker)
        // Figures of a damaged version would be made up: report the damage instead.
        if let first = checker.problems.first {
            throw CowDBError.corrupt(page: first.page, offset: first.offset, reason: first.message)
        }
        let pageSize = UInt64(store.layout.pageSize)
        let live = source.commit == nil ? 1 : UInt64(checker.reachablePages + 2)
        var stats = DatabaseStats(version: source.version, pageSize: store.layout.pageSize, versionCount: try versions().count,
                                  fileBytes: try store.file.length(), liveBytes: live * pageSize,
                                  keyspaces: keyspaces, catalogPages: catalogPages)
        // One read of the length for both figures: a top-up between two reads could otherwise
        // report more reserve than file.
        let tail = try dataFileTail()
        (stats.fileBytes, stats.reserveBytes) = (tail.fileBytes, tail.reserveBytes)
        return stats
    }

    /// Verifies every run of the region a version's commit appended, reachable or not, and the
    /// region checksum (`RegionCheck`): damage where no read would meet it is reported too.
    func checkRegion(_ source: ReadSource, _ checker: TreeChecker, version: UInt64) {
        guard let commit = source.commit else { return }
        // The map's reservation bounds the region only loosely; what keeps the walk inside the
        // file is that it never passes the commit page, which `source(at:)` has read and verified.
        let pageSize = store.layout.pageSize
        for problem in RegionCheck.problems(base: source.mapping.base, pageSize: pageSize,
                                            mappedPages: PageNumber(source.mapping.reservedLength / pageSize),
                                            firstPage: commit.record.firstPage, commitPage: commit.page,
                                            expected: commit.record.regionChecksum) {
            checker.report(problem.page, "version \(version): \(problem.reason)")
        }
    }

    /// Walks every tree of one version with `checker`; returns per-keyspace figures and catalog pages.
    private func walk(_ source: ReadSource, _ checker: TreeChecker) -> ([KeyspaceStats], Int) {
        guard let commit = source.commit else { return ([KeyspaceStats(name: nil)], 0) }
        let record = commit.record
        let limit = commit.page
        let commitBytes = UnsafeRawBufferPointer(start: source.mapping.base + Int(commit.page) * store.layout.pageSize, count: store.layout.pageSize)
        if !PageHeader.verify(commitBytes, pageNumber: commit.page) {
            checker.report(commit.page, "commit record checksum mismatch")
        }
        var result: [KeyspaceStats] = []
        let figures = checker.checkTree(root: record.defaultRoot, keyspace: nil, below: limit)
        if figures.entries != record.defaultCount {
            checker.report(commit.page, "default keyspace holds \(figures.entries) entries, the commit record says \(record.defaultCount)")
        }
        result.append(KeyspaceStats(name: nil, figures))
        var total = figures.entries
        let catalogFigures = checker.checkTree(root: record.catalogRoot, keyspace: "(catalog)", below: limit)
        var cursor = TreeCursor(root: record.catalogRoot == 0 ? nil : .page(record.catalogRoot), pages: source.pages)
        do {
            var more = try cursor.first()
            while more {
                let name = try cursor.withKey { String(decoding: $0, as: UTF8.self) }
                let nameBytes = try cursor.keyArray()
                if Array(name.utf8) != nameBytes || (try? Keyspace.validate(name: name)) == nil {
                    checker.report(nil, "catalog holds an invalid keyspace name \(name.debugDescription)")
                }
                let found = try cursor.value()
                let entry: CatalogValue?
                do { entry = try CatalogValue.read(found, keyspace: name, pages: source.pages) } catch let CowDBError.corrupt(page, offset, reason) {
                    checker.report(page, reason, offset: offset)
                    entry = nil
                }
                if let entry {
                    let figures = checker.checkTree(root: entry.root, keyspace: name, below: limit)
                    if figures.entries != entry.count {
                        checker.report(entry.root, "keyspace \(name.debugDescription) holds \(figures.entries) entries, the catalog says \(entry.count)")
                    }
                    total += figures.entries
                    result.append(KeyspaceStats(name: name, figures))
                }
                more = try cursor.next()
            }
        } catch {
            checker.report(record.catalogRoot, "catalog unreadable: \(error)")
        }
        checker.beginVersion() // commit-level problems belong to no keyspace
        if total != record.totalCount {
            checker.report(commit.page, "keyspaces hold \(total) entries, the commit record says \(record.totalCount)")
        }
        return (result, catalogFigures.branchPages + catalogFigures.leafPages)
    }
}

extension KeyspaceStats {
    init(name: String?, _ figures: TreeFigures) {
        self.init(name: name, depth: figures.depth, branchPages: figures.branchPages, leafPages: figures.leafPages,
                  overflowPages: figures.overflowPages, entries: figures.entries)
    }
}
