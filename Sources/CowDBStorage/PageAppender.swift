import CowDBFormat
// Appending one transaction's pages at the tail of the data file. Pages are collected in a
// buffer and written with few large `pwrite`s; each run's checksum is remembered so the
// commit record can bind itself to exactly the pages its commit wrote (`regionChecksum`).
// Pages appended by this transaction are referenced by no committed version, so the
// transaction may rewrite them in place (a spilled leaf that changes again).

/// What the B-tree needs from storage to write: append runs, rewrite its own pages, read.
package protocol PageSink: AnyObject {
    /// Limits that follow from the page size.
    var layout: PageLayout { get }
    /// Appends a run of `runLength` zeroed pages filled by `fill`, sealed with its checksum; returns its first page.
    func append(runLength: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws -> PageNumber
    /// Whether `page` was appended by this transaction (and may be rewritten).
    func ownsPage(_ page: PageNumber) -> Bool
    /// Rewrites a single page this transaction appended earlier.
    func rewrite(_ page: PageNumber, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws
    /// Writes everything buffered so that reads through `reader()` see it.
    func flush() throws
    /// A reader over committed pages and everything this transaction flushed.
    func reader() throws -> PageReader
}

/// The page sink of one write transaction.
package final class PageAppender: PageSink {
    package let store: PageStore
    package let layout: PageLayout
    /// First page this transaction appends (the page after the previous commit record).
    package let regionStart: PageNumber
    /// Next page to append.
    package private(set) var tail: PageNumber
    /// The page after the furthest write this appender started, whether or not it succeeded (a
    /// failed `pwrite` may have written part of it): what an abandoned commit must undo.
    package private(set) var attemptedEnd: PageNumber
    private var buffer: UnsafeMutableRawBufferPointer
    private var bufferStart: PageNumber
    private var bufferPages = 0
    private var runChecksums: [UInt32] = []
    private var runLengths: [UInt32] = []
    /// Maps used during this transaction (kept alive until it ends).
    package private(set) var mappings: [MappedRegion]
    /// Whether readers verify every read (else the first read of each page).
    private let verifyEveryRead: Bool

    /// Pages buffered by an ordinary transaction's appender (64: 256 KiB with 4 KiB pages).
    package static let defaultBufferPages = 64

    /// An appender for the region from `regionStart`, buffering `bufferBytes` (at least
    /// `defaultBufferPages` pages) between writes: a bottom-up build asks for MiBs, so that its
    /// pages reach the file in few large writes.
    package init(store: PageStore, regionStart: PageNumber, mapping: MappedRegion, verifyEveryRead: Bool, bufferBytes: Int = 0) {
        self.store = store
        self.layout = store.layout
        self.regionStart = regionStart
        self.tail = regionStart
        self.attemptedEnd = regionStart
        self.bufferStart = regionStart
        self.mappings = [mapping]
        self.verifyEveryRead = verifyEveryRead
        let pages = max(Self.defaultBufferPages, (bufferBytes + store.layout.pageSize - 1) / store.layout.pageSize)
        buffer = WriteBuffers.take(byteCount: pages * store.layout.pageSize)
        keepsBuffer = pages == Self.defaultBufferPages
    }

    /// Whether the buffer goes back to the pool at the end (a default-sized one), or is freed
    /// (a bottom-up build's larger one, which no ordinary commit would reuse).
    private let keepsBuffer: Bool

    deinit { WriteBuffers.give(buffer, keep: keepsBuffer) }

    package func ownsPage(_ page: PageNumber) -> Bool { page >= regionStart && page < tail }

    package func append(runLength: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws -> PageNumber {
        let bytes = runLength * layout.pageSize
        let first = tail
        if bytes > buffer.count - bufferPages * layout.pageSize { try flush() }
        let checksum: UInt32
        if bytes <= buffer.count {
            let slot = UnsafeMutableRawBufferPointer(rebasing: buffer[bufferPages * layout.pageSize ..< bufferPages * layout.pageSize + bytes])
            slot.initializeMemory(as: UInt8.self, repeating: 0)
            fill(slot)
            checksum = PageHeader.seal(slot, pageNumber: first)
            bufferPages += runLength
        } else {
            let run = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 4096)
            defer { run.deallocate() }
            run.initializeMemory(as: UInt8.self, repeating: 0)
            fill(run)
            checksum = PageHeader.seal(run, pageNumber: first)
            attemptedEnd = max(attemptedEnd, first + UInt64(runLength))
            try store.file.write(UnsafeRawBufferPointer(run), at: first * UInt64(layout.pageSize))
            bufferStart = first + UInt64(runLength)
        }
        // Sealed by this process: its first read need not verify it.
        store.verifiedPages.bits.insert(first)
        runChecksums.append(checksum)
        runLengths.append(UInt32(runLength))
        for _ in 1 ..< max(1, runLength) {
            runChecksums.append(0)
            runLengths.append(0)
        }
        tail = first + UInt64(runLength)
        return first
    }

    package func rewrite(_ page: PageNumber, _ fill: (UnsafeMutableRawBufferPointer) -> Void) throws {
        precondition(ownsPage(page), "only pages of this transaction may be rewritten")
        let index = Int(page - regionStart)
        precondition(runLengths[index] == 1, "only single pages may be rewritten")
        let checksum: UInt32
        if page >= bufferStart {
            let offset = Int(page - bufferStart) * layout.pageSize
            let slot = UnsafeMutableRawBufferPointer(rebasing: buffer[offset ..< offset + layout.pageSize])
            slot.initializeMemory(as: UInt8.self, repeating: 0)
            fill(slot)
            checksum = PageHeader.seal(slot, pageNumber: page)
        } else {
            let slot = UnsafeMutableRawBufferPointer.allocate(byteCount: layout.pageSize, alignment: 4096)
            defer { slot.deallocate() }
            slot.initializeMemory(as: UInt8.self, repeating: 0)
            fill(slot)
            checksum = PageHeader.seal(slot, pageNumber: page)
            try store.file.write(UnsafeRawBufferPointer(slot), at: page * UInt64(layout.pageSize))
        }
        runChecksums[index] = checksum
        store.verifiedPages.bits.insert(page)
    }

    package func flush() throws {
        if bufferPages > 0 {
            attemptedEnd = max(attemptedEnd, bufferStart + UInt64(bufferPages))
            try store.file.write(UnsafeRawBufferPointer(rebasing: buffer[0 ..< bufferPages * layout.pageSize]),
                                 at: bufferStart * UInt64(layout.pageSize))
        }
        bufferStart = tail
        bufferPages = 0
    }

    package func reader() throws -> PageReader {
        let mapping = mappings[mappings.count - 1]
        if Int(tail) * layout.pageSize > mapping.reservedLength {
            mappings.append(try store.map(covering: tail))
        }
        return store.reader(mappings[mappings.count - 1], limit: tail, everyRead: verifyEveryRead)
    }

    /// CRC-32C over the checksums of the runs appended so far, in page order.
    package func regionChecksum() -> UInt32 {
        var crc: UInt32 = 0
        for i in 0 ..< runChecksums.count where runLengths[i] != 0 {
            var value = runChecksums[i].littleEndian
            crc = withUnsafeBytes(of: &value) { crc32c($0, seed: crc) }
        }
        return crc
    }

    /// The newest map (covering every page appended and flushed).
    package var currentMapping: MappedRegion { mappings[mappings.count - 1] }
}

/// Write buffers kept between transactions. Allocating 64 pages per transaction made every
/// single-key commit map and unmap them (264 KiB with 4 KiB pages); a buffer handed back
/// here is reused by the next transaction of any database with the same page size.
private enum WriteBuffers {
    /// Buffers not in use; a few at most (one per concurrent writer is typical).
    private static let free = Locked<[UnsafeMutableRawBufferPointer]>([])
    /// How many idle buffers are kept; more are freed.
    private static let maximumKept = 4

    /// A page-aligned buffer of `byteCount` bytes, reused when one is free.
    package static func take(byteCount: Int) -> UnsafeMutableRawBufferPointer {
        let reused = free.withLock { buffers -> UnsafeMutableRawBufferPointer? in
            guard let index = buffers.firstIndex(where: { $0.count == byteCount }) else { return nil }
            return buffers.remove(at: index)
        }
        return reused ?? .allocate(byteCount: byteCount, alignment: 4096)
    }

    /// Hands a buffer from `take` back (its contents are not kept): to the pool when `keep`,
    /// else freed.
    package static func give(_ buffer: UnsafeMutableRawBufferPointer, keep: Bool) {
        let kept = keep && free.withLock { buffers -> Bool in
            guard buffers.count < maximumKept else { return false }
            buffers.append(buffer)
            return true
        }
        if !kept { buffer.deallocate() }
    }
}
