// The 16-byte header that starts every page (and every run of overflow pages).
//
//   offset size field
//   0      4    checksum   CRC-32C of the page number (8 bytes LE) followed by
//                          bytes [4, runLength × pageSize) of the run: binds the bytes
//                          to where they are, so a page copied elsewhere fails
//   4      1    kind       1 branch, 2 leaf, 3 overflow, 4 commit record
//   5      1    flags      0 (reserved)
//   6      2    count      entries (branch, leaf); 0 otherwise
//   8      4    runLength  pages in this run: 1, or n ≥ 1 for an overflow run
//   12     4    aux        overflow: value length in bytes; 0 otherwise
//
// Pages are numbered from 0 (the file header); page n starts at byte n × pageSize.

/// A page number: page n starts at byte `n × pageSize` of the data file. 0 is the file header,
/// so 0 also means "no page" wherever a root or link is stored.
@usableFromInline package typealias PageNumber = UInt64

/// The kinds of page in the data file.
@usableFromInline package enum PageKind: UInt8, Sendable, CaseIterable {
    case branch = 1
    case leaf = 2
    case overflow = 3
    case commit = 4
}

/// Field offsets and helpers for the page header. (The offsets are `@inlinable` computed
/// properties, not stored constants, so that code inlined into other modules folds them.)
@usableFromInline package enum PageHeader {
    @inlinable package static var size: Int { 16 }
    @inlinable package static var checksumOffset: Int { 0 }
    @inlinable package static var kindOffset: Int { 4 }
    @inlinable package static var flagsOffset: Int { 5 }
    @inlinable package static var countOffset: Int { 6 }
    @inlinable package static var runLengthOffset: Int { 8 }
    @inlinable package static var auxOffset: Int { 12 }

    /// Writes the header fields (not the checksum).
    @usableFromInline package static func write(_ page: UnsafeMutableRawBufferPointer, kind: PageKind, count: Int, runLength: Int, aux: UInt32 = 0) {
        page.setU32(0, checksumOffset)
        page.setU8(kind.rawValue, kindOffset)
        page.setU8(0, flagsOffset)
        page.setU16(UInt16(count), countOffset)
        page.setU32(UInt32(runLength), runLengthOffset)
        page.setU32(aux, auxOffset)
    }

    /// The checksum of a run as stored in its header: CRC-32C over the page number and bytes [4, end).
    package static func computeChecksum(_ run: UnsafeRawBufferPointer, pageNumber: PageNumber) -> UInt32 {
        var number = pageNumber.littleEndian
        let seed = withUnsafeBytes(of: &number) { crc32c($0) }
        return crc32c(UnsafeRawBufferPointer(rebasing: run[4...]), seed: seed)
    }

    /// Computes and stores the checksum of a finished run; returns it.
    @discardableResult
    package static func seal(_ run: UnsafeMutableRawBufferPointer, pageNumber: PageNumber) -> UInt32 {
        let checksum = computeChecksum(UnsafeRawBufferPointer(run), pageNumber: pageNumber)
        run.setU32(checksum, checksumOffset)
        return checksum
    }

    /// Whether the stored checksum matches the run's bytes.
    package static func verify(_ run: UnsafeRawBufferPointer, pageNumber: PageNumber) -> Bool {
        run.u32(checksumOffset) == computeChecksum(run, pageNumber: pageNumber)
    }

    /// The error for a one-page branch or leaf whose header did not check out: the wrong kind,
    /// a run length other than 1, or else its entry count (`countProblem` says how).
    @inline(never)
    package static func singlePageError(_ page: UnsafeRawBufferPointer, number: PageNumber, expected kind: PageKind, countProblem: String) -> CowDBError {
        let name = kind == .branch ? "branch" : "leaf"
        guard page.u8(kindOffset) == kind.rawValue else {
            return CowDBError.corruptPage(number, "expected a \(name) page, found kind \(page.u8(kindOffset))", offset: kindOffset)
        }
        guard page.u32(runLengthOffset) == 1 else {
            return CowDBError.corruptPage(number, "\(name) page has run length \(page.u32(runLengthOffset)), not 1", offset: runLengthOffset)
        }
        return CowDBError.corruptPage(number, "\(name) entry count \(page.u16(countOffset)) \(countProblem)", offset: countOffset)
    }
}
