import CowDBFormat
// The B-tree's read-only window on pages: a base address, how many pages may be read, and
// the page size. It knows nothing of files; the page store hands it out over its map.
// Every page and overflow run handed out has had its checksum verified, by this read or by
// an earlier one of this process (see `VerifiedPages`), unless the reader is `unverified`.

/// When a `PageReader` verifies checksums.
package enum PageVerification {
    /// The first read of each page or run in this process (`ChecksumVerification.firstRead`).
    case firstRead(VerifiedPages.Bits)
    /// Every read (`ChecksumVerification.everyRead`).
    case everyRead
    /// Never: for `check()` and `stats()`, which verify and report by themselves.
    case unverified
}

/// Bounds-checked, checksum-verified access to pages `1 ..< limit` of mapped memory.
@usableFromInline package struct PageReader {
    @usableFromInline package let base: UnsafeRawPointer
    /// Pages `[1, limit)` are readable; page 0 (the file header) never holds tree data.
    @usableFromInline package var limit: PageNumber
    @usableFromInline package let layout: PageLayout
    /// Pages verified before, tested first (no page for a reader that verifies every read).
    @usableFromInline package let verified: VerifiedPages.Bits
    /// False only for an `unverified` reader.
    @usableFromInline package let verifiesChecksums: Bool

    /// A reader of pages `[1, limit)` at `base` that verifies checksums as `verification` says.
    package init(base: UnsafeRawPointer, limit: PageNumber, layout: PageLayout, verification: PageVerification) {
        self.base = base
        self.limit = limit
        self.layout = layout
        switch verification {
        case let .firstRead(bits): (verified, verifiesChecksums) = (bits, true)
        case .everyRead: (verified, verifiesChecksums) = (.none, true)
        case .unverified: (verified, verifiesChecksums) = (.none, false)
        }
    }

    /// The bytes of page `number`, after checking that it lies inside the readable range and
    /// (unless done before) that its checksum holds.
    @inlinable @inline(__always)
    package func page(_ number: PageNumber) throws -> UnsafeRawBufferPointer {
        guard number >= 1, number < limit else {
            throw CowDBError.corruptPage(number, "page number outside the readable range 1..<\(limit)")
        }
        let bytes = UnsafeRawBufferPointer(start: base + Int(number) * layout.pageSize, count: layout.pageSize)
        if verified.contains(number) { return bytes }
        // Tree pages are single pages; a damaged run-length field fails here too.
        try verify(bytes, number, what: "page")
        return bytes
    }

    /// The bytes of a run of `count` pages from `number`, bounds-checked as a whole (its
    /// checksum is not verified: see `verifiedRun`).
    @inlinable
    package func run(_ number: PageNumber, count: Int) throws -> UnsafeRawBufferPointer {
        guard number >= 1, count >= 1, number < limit, UInt64(count) <= limit - number else {
            throw CowDBError.corruptPage(number, "run of \(count) pages outside the readable range 1..<\(limit)")
        }
        return UnsafeRawBufferPointer(start: base + Int(number) * layout.pageSize, count: count * layout.pageSize)
    }

    /// Verifies the checksum of `run` (starting at page `number`), unless this process did
    /// before. The caller has checked that the run's header gives the length `run` has: the
    /// bit of a run's first page then vouches for the whole run.
    @inlinable @inline(__always)
    package func verifiedRun(_ run: UnsafeRawBufferPointer, _ number: PageNumber) throws {
        if verified.contains(number) { return }
        try verify(run, number, what: "overflow run")
    }

    /// The value bytes of the overflow run at `page`, checked against the length its leaf
    /// reference gives and held below the leaf (`limit`) that names it.
    package func overflowValue(page: PageNumber, length: Int, below limit: PageNumber) throws -> UnsafeRawBufferPointer {
        let runLength = layout.overflowRunLength(valueLength: length)
        guard page >= 1, page < limit, runLength <= Int(limit - page) else {
            throw CowDBError.corruptPage(page, "overflow run of \(runLength) pages at page \(page) is not below its leaf (\(limit))")
        }
        let run = try self.run(page, count: runLength)
        try OverflowPage.checkHeader(run, page: page, runLength: runLength, length: length)
        try verifiedRun(run, page)
        return UnsafeRawBufferPointer(rebasing: run[PageHeader.size ..< PageHeader.size + length])
    }

    /// Checks `run`'s checksum as `verification` asks; records a first-read success.
    @inline(never) @usableFromInline
    func verify(_ run: UnsafeRawBufferPointer, _ number: PageNumber, what: String) throws {
        guard verifiesChecksums else { return }
        guard PageHeader.verify(run, pageNumber: number) else {
            throw CowDBError.corruptPage(number, "\(what) checksum mismatch")
        }
        verified.insert(number)
    }
}
