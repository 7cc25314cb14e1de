// The B-tree's read-only window on pages: a base address, how many pages may be read, and
// the page size. It knows nothing of files; the page store hands it out over its map.

/// Bounds-checked access to pages `1 ..< limit` of mapped memory.
struct PageReader {
    let base: UnsafeRawPointer
    /// Pages `[1, limit)` are readable; page 0 (the file header) never holds tree data.
    var limit: PageNumber
    let layout: PageLayout
    /// Verify each run's checksum whenever it is read (`DatabaseOptions.verifyOnRead`).
    let verifyChecksums: Bool

    /// The bytes of page `number`, after checking that it lies inside the readable range.
    @inline(__always)
    func page(_ number: PageNumber) throws -> UnsafeRawBufferPointer {
        guard number >= 1, number < limit else {
            throw CowDBError.corruptPage(number, "page number outside the readable range 1..<\(limit)")
        }
        let bytes = UnsafeRawBufferPointer(start: base + Int(number) * layout.pageSize, count: layout.pageSize)
        if verifyChecksums, !PageHeader.verify(bytes, pageNumber: number) {
            // Tree pages are single pages; a damaged run-length field fails here too.
            throw CowDBError.corruptPage(number, "page checksum mismatch")
        }
        return bytes
    }

    /// The bytes of a run of `count` pages from `number`, bounds-checked as a whole.
    func run(_ number: PageNumber, count: Int) throws -> UnsafeRawBufferPointer {
        guard number >= 1, count >= 1, number < limit, UInt64(count) <= limit - number else {
            throw CowDBError.corruptPage(number, "run of \(count) pages outside the readable range 1..<\(limit)")
        }
        return UnsafeRawBufferPointer(start: base + Int(number) * layout.pageSize, count: count * layout.pageSize)
    }
}
