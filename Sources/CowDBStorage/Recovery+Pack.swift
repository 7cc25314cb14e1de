import CowDBFormat

// Recovery's view of a pack commit (docs/PACKED-HISTORY.md): the commit stands for every
// version of its version table, and each of them has an index record naming it.

extension Recovery {
    /// The index records of the versions the pack commit `record` on `page` holds, read from
    /// its version table; nil when the table is damaged or not where the record says (the
    /// scan then stops before the pack commit, as at any run that fails).
    static func packRecords(_ record: CommitRecord, page: PageNumber, base: UnsafeRawPointer, pageSize: Int) -> [IndexRecord]? {
        guard let table = try? versionTable(of: record, page: page, base: base, pageSize: pageSize) else { return nil }
        return table.map { IndexRecord(packed: $0, pack: record, page: page, synced: false) }
    }

    /// The version table of the pack commit `record` on `page`: its overflow run must lie in
    /// the commit's region, verify, and agree with the record.
    package static func versionTable(of record: CommitRecord, page: PageNumber, base: UnsafeRawPointer,
                                     pageSize: Int) throws -> [VersionTable.Entry] {
        guard let pack = record.pack else { throw CowDBError.corruptPage(page, "not a pack commit") }
        let length = pack.versionCount.multipliedReportingOverflow(by: UInt64(VersionTable.entrySize))
        guard !length.overflow, length.partialValue <= UInt64(PageLayout.maxValueSize) else {
            throw CowDBError.corruptPage(page, "pack commit of \(pack.versionCount) versions", offset: 104)
        }
        let layout = PageLayout(pageSize: pageSize)
        let runLength = layout.overflowRunLength(valueLength: Int(length.partialValue))
        guard pack.versionTable >= record.firstPage, UInt64(runLength) <= page - pack.versionTable else {
            throw CowDBError.corruptPage(page, "pack commit's version table (page \(pack.versionTable), \(runLength) pages) is not in its region", offset: 112)
        }
        let run = UnsafeRawBufferPointer(start: base + Int(pack.versionTable) * pageSize, count: runLength * pageSize)
        try OverflowPage.checkHeader(run, page: pack.versionTable, runLength: runLength, length: Int(length.partialValue))
        guard PageHeader.verify(run, pageNumber: pack.versionTable) else {
            throw CowDBError.corruptPage(pack.versionTable, "version table checksum mismatch")
        }
        let bytes = UnsafeRawBufferPointer(rebasing: run[PageHeader.size ..< PageHeader.size + Int(length.partialValue)])
        return try VersionTable.decode(bytes, pack: record, page: page)
    }

    /// Step 2 when the last synced record is a packed one: the pack commit it names, verified,
    /// as the anchor, at the position of the pack's last record — if the index holds every
    /// version of the pack. Otherwise no anchor: the scan from the first page rebuilds them.
    static func packedAnchor(in prefix: [IndexRecord], at i: Int, base: UnsafeRawPointer, pageSize: Int) throws -> (Int, CommitPoint?) {
        let record = prefix[i]
        guard let commit = verifiedCommit(base: base, pageSize: pageSize, page: record.commitPage), commit.pack != nil,
              record.version <= commit.version
        else {
            throw CowDBError.corrupt(page: record.commitPage, offset: nil,
                                     reason: "the pack commit of durable version \(record.version) is damaged (not a torn write); refusing to truncate it")
        }
        var last = i
        while last + 1 < prefix.count, prefix[last + 1].commitPage == record.commitPage { last += 1 }
        guard prefix[last].version == commit.version, prefix[last].timestamp == commit.timestamp else { return (-1, nil) }
        return (last, CommitPoint(record: commit, page: record.commitPage))
    }
}
