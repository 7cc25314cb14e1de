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
package enum OverflowPage {
    /// Writes a run holding `value` into `run` (zeroed by caller, `runLength` pages long).
    package static func encode(value: UnsafeRawBufferPointer, runLength: Int, into run: UnsafeMutableRawBufferPointer) {
        PageHeader.write(run, kind: .overflow, count: 0, runLength: runLength, aux: UInt32(value.count))
        run.setBytes(value, PageHeader.size)
    }

    /// Checks the header of the run at `page` (`run` is its first page onward) against the leaf
    /// reference: kind, run length and value length. Throws `corrupt` naming what differs.
    package static func checkHeader(_ run: UnsafeRawBufferPointer, page: PageNumber, runLength: Int, length: Int) throws {
        guard run.u8(PageHeader.kindOffset) == PageKind.overflow.rawValue,
              Int(run.u32(PageHeader.runLengthOffset)) == runLength,
              Int(run.u32(PageHeader.auxOffset)) == length
        else {
            throw CowDBError.corruptPage(page, "overflow run header does not match its leaf reference (kind \(run.u8(4)), \(run.u32(8)) pages, \(run.u32(12)) bytes; expected \(runLength) pages, \(length) bytes)")
        }
    }
}
