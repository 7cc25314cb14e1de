// An overflow run: one large value in contiguous pages, with one header and one checksum,
// so the value's bytes can be handed out from the map without copying.
//
//   offset  size  field
//   0       16    page header (kind 3, count 0, runLength r, aux = value length L)
//   16      L     value bytes
//   16 + L        zero to the end of page r − 1 of the run
//
// r = ceil((16 + L) / pageSize). The leaf cell that points here also stores L; the two must agree.

/// Encoding and decoding of overflow runs.
enum OverflowPage {
    /// Writes a run holding `value` into `run` (zeroed by caller, `runLength` pages long).
    static func encode(value: UnsafeRawBufferPointer, runLength: Int, into run: UnsafeMutableRawBufferPointer) {
        PageHeader.write(run, kind: .overflow, count: 0, runLength: runLength, aux: UInt32(value.count))
        run.setBytes(value, PageHeader.size)
    }

    /// The value bytes of the run at `page` in `pages`, checked against the expected length.
    static func value(in pages: PageReader, page: PageNumber, length: Int, below limit: PageNumber) throws -> UnsafeRawBufferPointer {
        let runLength = pages.layout.overflowRunLength(valueLength: length)
        guard page >= 1, page < limit, runLength <= Int(limit - page) else {
            throw CowDBError.corruptPage(page, "overflow run of \(runLength) pages at page \(page) is not below its leaf (\(limit))")
        }
        let run = try pages.run(page, count: runLength)
        guard run.u8(PageHeader.kindOffset) == PageKind.overflow.rawValue,
              Int(run.u32(PageHeader.runLengthOffset)) == runLength,
              Int(run.u32(PageHeader.auxOffset)) == length
        else {
            throw CowDBError.corruptPage(page, "overflow run header does not match its leaf reference (kind \(run.u8(4)), \(run.u32(8)) pages, \(run.u32(12)) bytes; expected \(runLength) pages, \(length) bytes)")
        }
        try pages.verifiedRun(run, page)
        return UnsafeRawBufferPointer(rebasing: run[PageHeader.size ..< PageHeader.size + length])
    }
}
