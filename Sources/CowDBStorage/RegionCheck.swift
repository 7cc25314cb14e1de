import CowDBFormat
// Verifies one commit's region run by run: every run from the region's first page up to its
// commit record must have a sane header, lie inside the region and match its own checksum, and
// the stored checksums must fold to the record's `regionChecksum` (FORMAT.md, "Region checksum").
// A tree walk reaches only the runs some version references; this pass also covers the runs no
// version reaches (a value replaced later in the same transaction), so bit rot anywhere in the
// committed file is reported, not only where a read would meet it.

/// One problem found in a region: the page it is on and what is wrong.
package struct RegionProblem: Equatable {
    package let page: PageNumber
    package let reason: String

    /// Memberwise.
    package init(page: PageNumber, reason: String) {
        self.page = page
        self.reason = reason
    }
}

package enum RegionCheck {
    /// The problems of the region `[firstPage, commitPage)` in the map at `base` (`mappedPages`
    /// pages long), whose commit record stores `expected` as its region checksum. Stops at the
    /// first run it cannot step over (a damaged length leaves no way to find the next run).
    package static func problems(base: UnsafeRawPointer, pageSize: Int, mappedPages: PageNumber,
                         firstPage: PageNumber, commitPage: PageNumber, expected: UInt32) -> [RegionProblem] {
        guard firstPage >= 1, firstPage <= commitPage, commitPage < mappedPages else {
            return [RegionProblem(page: commitPage, reason: "region [\(firstPage), \(commitPage)) lies outside the file (\(mappedPages) pages)")]
        }
        var problems: [RegionProblem] = []
        var fold: UInt32 = 0
        var page = firstPage
        while page < commitPage {
            let (first, kind, runLength) = runStart(base: base, pageSize: pageSize, page: page)
            guard (1 ... 3).contains(kind), runLength >= 1, runLength <= commitPage - page else {
                problems.append(RegionProblem(page: page, reason: "run header (kind \(kind), \(runLength) pages) does not fit the region ending at page \(commitPage)"))
                return problems
            }
            let run = UnsafeRawBufferPointer(start: first.baseAddress!, count: Int(runLength) * pageSize)
            if !PageHeader.verify(run, pageNumber: page) {
                problems.append(RegionProblem(page: page, reason: "run of \(runLength) pages fails its checksum"))
            }
            fold = extend(fold, withChecksumOf: first)
            page += runLength
        }
        if fold != expected {
            problems.append(RegionProblem(page: commitPage, reason: "region checksum mismatch: the runs of [\(firstPage), \(commitPage)) are not the ones this commit wrote"))
        }
        return problems
    }

    /// The first page of the run at `page` and the kind and length its header claims (unchecked).
    @inline(__always)
    package static func runStart(base: UnsafeRawPointer, pageSize: Int, page: PageNumber) -> (first: UnsafeRawBufferPointer, kind: UInt8, runLength: UInt64) {
        let first = UnsafeRawBufferPointer(start: base + Int(page) * pageSize, count: pageSize)
        return (first, first.u8(PageHeader.kindOffset), UInt64(first.u32(PageHeader.runLengthOffset)))
    }

    /// `fold` (the region checksum so far) extended with the stored checksum of the run whose
    /// first page is `first`.
    @inline(__always)
    package static func extend(_ fold: UInt32, withChecksumOf first: UnsafeRawBufferPointer) -> UInt32 {
        var checksum = first.u32(PageHeader.checksumOffset).littleEndian
        return withUnsafeBytes(of: &checksum) { crc32c($0, seed: fold) }
    }
}
