import CowDBFormat
// Recovery at open: find the newest commit whose bytes are all intact, in time that grows
// with the unsynced tail, not with history.
//
//  1. Take the longest prefix of index records whose checksums hold and whose versions and
//     commit pages increase (a torn or damaged record ends it).
//  2. Anchor: the last record in that prefix flagged `synced` (an fdatasync covered it and
//     everything before it) whose commit page verifies in the data file.
//  3. Scan forward from the anchor's commit page, run by run: every run's checksum must hold;
//     a commit record must name the previous commit, the first page of its region, the next
//     version, a later timestamp and the checksum of its region's run checksums. The first
//     run that fails ends the scan: what lies beyond is a torn tail.
//  4. Index records after the anchor that match the scan are trusted; the scan's other
//     commits become pending records (rebuilt index entries).
//
// A pack commit (the first commit of a file written by packing) has one index record like any
// commit, flagged packed; the versions before its own are listed by its version table, which
// the generation reads after recovery (PackedVersions.swift).

/// A commit record and the page it sits on.
package struct CommitPoint: Equatable, Sendable {
    package var record: CommitRecord
    package var page: PageNumber

    /// Memberwise.
    package init(record: CommitRecord, page: PageNumber) {
        self.record = record
        self.page = page
    }
}

/// What recovery established.
package struct RecoveryResult {
    /// The newest intact commit (nil: no commit yet, version 0).
    package var latest: CommitPoint?
    /// Index records in the file that are trusted.
    package var trustedFileRecords: Int
    /// Commits found in the data file beyond the trusted index records.
    package var pending: [IndexRecord]
    /// Whether the newest commit may not be durable yet (written with `.none` durability).
    package var latestIsUnsynced: Bool
    /// Pages of the data file that recovery verified (the tail).
    package var pagesVerified: UInt64
    /// First page of the verified tail (the page after the anchor's commit record).
    package var tailStart: PageNumber

    /// Memberwise.
    package init(latest: CommitPoint? = nil, trustedFileRecords: Int, pending: [IndexRecord], latestIsUnsynced: Bool, pagesVerified: UInt64, tailStart: PageNumber) {
        self.latest = latest
        self.trustedFileRecords = trustedFileRecords
        self.pending = pending
        self.latestIsUnsynced = latestIsUnsynced
        self.pagesVerified = pagesVerified
        self.tailStart = tailStart
    }
}

package enum Recovery {
    /// Runs steps 1–4 over the data file's map (`filePages` pages long) and the index.
    package static func run(store: PageStore, mapping: MappedRegion, filePages: PageNumber, log: RootLog) throws -> RecoveryResult {
        let pageSize = store.layout.pageSize
        let prefix = try validPrefix(of: log, filePages: filePages)
        let (anchorIndex, anchor) = try findAnchor(in: prefix, base: mapping.base, pageSize: pageSize)
        let (found, scanned) = scanTail(after: anchor, base: mapping.base, pageSize: pageSize, filePages: filePages)

        // 4. Reconcile the index after the anchor with what the scan found.
        var trusted = anchorIndex + 1
        var matched = 0
        while matched < scanned.count, trusted < prefix.count {
            let record = prefix[trusted]
            let point = scanned[matched]
            guard record.version == point.version, record.commitPage == point.commitPage,
                  record.timestamp == point.timestamp, record.isPacked == point.isPacked else { break }
            trusted += 1
            matched += 1
        }
        let pending = Array(scanned[matched...])
        return RecoveryResult(latest: found.last ?? anchor, trustedFileRecords: trusted, pending: pending,
                              latestIsUnsynced: !found.isEmpty,
                              pagesVerified: filePages - min(filePages, (anchor?.page ?? 0) + 1),
                              tailStart: (anchor?.page ?? 0) + 1)
    }

    /// Step 1: the longest prefix of index records whose checksums hold and whose versions and
    /// commit pages increase inside the file.
    private static func validPrefix(of log: RootLog, filePages: PageNumber) throws -> [IndexRecord] {
        let inFile = try log.recordsInFile()
        var prefix: [IndexRecord] = []
        prefix.reserveCapacity(inFile)
        for i in 0 ..< inFile {
            guard let record = try log.fileRecord(i) else { break }
            if let previous = prefix.last, record.version <= previous.version || record.commitPage <= previous.commitPage { break }
            if record.isPacked, i > 0 { break } // only a file's first commit is a pack
            guard record.commitPage >= 1, record.commitPage < filePages else { break }
            prefix.append(record)
        }
        return prefix
    }

    /// Step 2: the anchor, the last synced record (its position, -1 for none). Its commit was
    /// durable, so if it no longer verifies the file is damaged, not torn: refuse rather than
    /// truncate durable data.
    private static func findAnchor(in prefix: [IndexRecord], base: UnsafeRawPointer, pageSize: Int) throws -> (Int, CommitPoint?) {
        guard let i = prefix.lastIndex(where: \.isSynced) else { return (-1, nil) }
        let record = prefix[i]
        guard let commit = verifiedCommit(base: base, pageSize: pageSize, page: record.commitPage),
              commit.version == record.version, commit.timestamp == record.timestamp
        else {
            throw CowDBError.corrupt(page: record.commitPage, offset: nil,
                                     reason: "the commit record of durable version \(record.version) is damaged (not a torn write); refusing to truncate it")
        }
        return (i, CommitPoint(record: commit, page: record.commitPage))
    }

    /// Step 3: the forward scan of the tail after `anchor`, run by run; the commits it finds
    /// intact, in order, and their index records (one each, a pack commit's too). The first run
    /// that fails ends it.
    package static func scanTail(after anchor: CommitPoint?, base: UnsafeRawPointer, pageSize: Int,
                                 filePages: PageNumber) -> ([CommitPoint], [IndexRecord]) {
        var found: [CommitPoint] = []
        var records: [IndexRecord] = []
        var previousPage = anchor?.page ?? 0
        var lastVersion = anchor?.record.version ?? 0
        var lastTimestamp = anchor?.record.timestamp ?? 0
        var regionStart = previousPage + 1
        var fold: UInt32 = 0
        var page = regionStart
        while page < filePages {
            let (first, kind, runLength) = RegionCheck.runStart(base: base, pageSize: pageSize, page: page)
            guard runLength >= 1, runLength <= filePages - page, (1 ... 4).contains(kind) else { break }
            let run = UnsafeRawBufferPointer(start: first.baseAddress!, count: Int(runLength) * pageSize)
            guard PageHeader.verify(run, pageNumber: page) else { break }
            if kind == PageKind.commit.rawValue {
                guard runLength == 1, let record = try? CommitRecord.decode(run, pageNumber: page),
                      record.previousCommit == previousPage, record.firstPage == regionStart,
                      record.follows(lastVersion), record.timestamp > lastTimestamp,
                      record.regionChecksum == fold
                else { break }
                records.append(IndexRecord(commit: record, page: page, synced: false))
                found.append(CommitPoint(record: record, page: page))
                (previousPage, lastVersion, lastTimestamp) = (page, record.version, record.timestamp)
                regionStart = page + 1
                fold = 0
            } else {
                fold = RegionCheck.extend(fold, withChecksumOf: first)
            }
            page += runLength
        }
        return (found, records)
    }

    /// The commit record on `page` if its checksum holds and it decodes.
    package static func verifiedCommit(base: UnsafeRawPointer, pageSize: Int, page: PageNumber) -> CommitRecord? {
        let bytes = UnsafeRawBufferPointer(start: base + Int(page) * pageSize, count: pageSize)
        guard bytes.u8(PageHeader.kindOffset) == PageKind.commit.rawValue, PageHeader.verify(bytes, pageNumber: page) else { return nil }
        return try? CommitRecord.decode(bytes, pageNumber: page)
    }
}
