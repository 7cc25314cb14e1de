import CowDBFormat

// Reading a pack commit's version table (docs/PACKED-HISTORY.md), checked: what the generation
// serves as the packed versions' index records (PackedVersions.swift) and what `check` verifies.

extension Recovery {
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
}
