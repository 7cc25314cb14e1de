import CowDBFormat
import Foundation

// The page store: the append-only data file, its header, and the read-only map over it.
// It hands out `PageReader`s and appends runs of pages; it knows nothing of B-trees.

/// The data file of a database.
package final class PageStore: @unchecked Sendable {
    package let file: any StorageFile
    package let header: FileHeader
    package let layout: PageLayout
    package let minimumReservation: Int
    /// The pages of this file this process has verified or written (for every reader of it).
    package let verifiedPages = VerifiedPages()

    /// Creates the data file atomically: header written to `NAME.tmp`, synced, renamed, directory
    /// synced. Compaction passes the database's UUID and the next generation.
    package static func create(backend: any StorageBackend, directory: String, pageSize: Int, name: String = "data",
                       uuid: UUID = UUID(), generation: UInt64 = 1) throws {
        let path = directory + "/" + name
        let temporary = path + ".tmp"
        try backend.unlink(temporary)
        let file = try backend.open(temporary, create: true, readOnly: false)
        defer { file.close() }
        let now = nanosecondsSince1970(Date())
        let header = FileHeader(pageSize: pageSize, uuid: uuid, generation: generation, createdAt: now)
        var page = [UInt8](repeating: 0, count: pageSize)
        page.withUnsafeMutableBytes { header.encode(into: $0) }
        try page.withUnsafeBytes { try file.write($0, at: 0) }
        try file.sync()
        try backend.rename(temporary, path)
        try backend.syncDirectory(directory)
    }

    /// Opens and validates an existing data file and maps it.
    package init(backend: any StorageBackend, directory: String, readOnly: Bool, minimumReservation: Int, name: String = "data") throws {
        let path = directory + "/" + name
        let file = try backend.open(path, create: false, readOnly: readOnly)
        self.file = file
        var first = [UInt8](repeating: 0, count: FileHeader.encodedSize)
        let got = try first.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        header = try first.withUnsafeBytes { try FileHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0 ..< got]), path: path) }
        layout = PageLayout(pageSize: header.pageSize)
        guard try file.length() >= UInt64(header.pageSize) else {
            throw CowDBError.notADatabase(path: path, reason: "file is shorter than its header page")
        }
        self.minimumReservation = minimumReservation
    }

    /// Length of the data file in whole pages.
    package func filePages() throws -> PageNumber { try file.length() / UInt64(layout.pageSize) }

    /// A map covering at least `pages` pages, reserving room to grow (the larger of the
    /// configured reservation and twice what is needed now).
    package func map(covering pages: PageNumber) throws -> MappedRegion {
        let needed = Int(pages) * layout.pageSize
        var reservation = max(minimumReservation, layout.pageSize)
        while reservation < needed * 2 { reservation *= 2 }
        return try file.map(reservedLength: reservation)
    }

    /// A reader over `mapping` for pages below `limit` that verifies each page the first time
    /// this process reads it, or (`everyRead`) every time.
    package func reader(_ mapping: MappedRegion, limit: PageNumber, everyRead: Bool) -> PageReader {
        precondition(Int(limit) * layout.pageSize <= mapping.reservedLength, "map does not cover the readable pages")
        return PageReader(base: mapping.base, limit: limit, layout: layout,
                          verification: everyRead ? .everyRead : .firstRead(verifiedPages.bits))
    }
}
