import CowDBFormat

// Verifies a run of whole commits held in memory, away from any data file: the bytes a replica
// ships or restores (docs/REPLICATION.md). It is recovery's forward scan (Recovery.scanTail)
// over a buffer that stands for pages [startPage, startPage + count) of a data file, so a
// segment is checked by exactly the rules a writer's open applies to an unsynced tail: every
// run's checksum, each commit record's chain link, version, timestamp and region checksum.

/// What a segment holds: its commits in order, or where verification stopped.
package struct SegmentScanResult {
    /// The commits found intact, in order (their pages are data-file pages).
    package let commits: [CommitPoint]
    /// Whether the last intact commit record is the segment's last page.
    package let complete: Bool
    /// The first data-file page not covered by an intact commit (the segment's end when complete).
    package let verifiedEndPage: PageNumber
}

package enum SegmentScan {
    /// Scans `bytes`, pages [startPage, startPage + bytes.count / pageSize) of a data file, for the
    /// commits that follow `anchor` (the commit record just before the segment; nil when the
    /// segment starts the file, whose page 0, the file header, the caller checks). `bytes.count`
    /// must be a multiple of `pageSize`.
    package static func scan(_ bytes: UnsafeRawBufferPointer, startPage: PageNumber, pageSize: Int,
                             after anchor: CommitPoint?) -> SegmentScanResult {
        let pages = PageNumber(bytes.count / pageSize)
        let firstScanned = (anchor?.page ?? 0) + 1
        guard let start = bytes.baseAddress, bytes.count % pageSize == 0, pages > 0,
              firstScanned == max(startPage, 1), startPage + pages > firstScanned
        else { return SegmentScanResult(commits: [], complete: false, verifiedEndPage: startPage) }
        // The scan addresses pages by their number in the file: a base `startPage` pages before
        // the buffer, of which it only ever reads pages in [firstScanned, startPage + pages).
        let base = start - Int(startPage) * pageSize
        let (found, _) = Recovery.scanTail(after: anchor, base: base, pageSize: pageSize, filePages: startPage + pages)
        let end = (found.last?.page ?? (firstScanned - 1)) + 1
        return SegmentScanResult(commits: found, complete: !found.isEmpty && end == startPage + pages,
                                 verifiedEndPage: max(end, startPage))
    }
}
