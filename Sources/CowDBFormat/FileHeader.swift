import Foundation

// Page 0 of the data file: identifies the file and fixes its page size.
//
//   offset size field
//   0      8    magic          "CowDB\0\r\n" (43 6F 77 44 42 00 0D 0A): the CR LF catch
//                              text-mode transfers, the NUL catches C-string tools
//   8      4    formatVersion  1
//   12     4    pageSize       power of two, 4096 … 65536
//   16     16   uuid           random at creation; kept by compaction
//   32     8    generation     1 at creation; compaction writes generation + 1
//   40     8    createdAt      nanoseconds since 1970 (UTC)
//   48     12   reserved       zero
//   60     4    checksum       CRC-32C of bytes [0, 60)
//   64 …        zero to the end of the page
//
// The header is read before the page size is known, so it sits in the first 64 bytes.

/// The decoded data file header.
package struct FileHeader: Equatable, Sendable {
    package static let magic: [UInt8] = [0x43, 0x6F, 0x77, 0x44, 0x42, 0x00, 0x0D, 0x0A]
    package static let currentFormatVersion: UInt32 = 1
    package static let encodedSize = 64

    package var formatVersion: UInt32 = FileHeader.currentFormatVersion
    package var pageSize: Int
    package var uuid: UUID
    package var generation: UInt64
    package var createdAt: UInt64

    /// Memberwise.
    package init(formatVersion: UInt32 = FileHeader.currentFormatVersion, pageSize: Int, uuid: UUID, generation: UInt64, createdAt: UInt64) {
        self.formatVersion = formatVersion
        self.pageSize = pageSize
        self.uuid = uuid
        self.generation = generation
        self.createdAt = createdAt
    }

    /// Encodes into the first 64 bytes of `buffer` (the rest of page 0 stays zero).
    package func encode(into buffer: UnsafeMutableRawBufferPointer) {
        for i in 0 ..< 64 { buffer[i] = 0 }
        for (i, b) in FileHeader.magic.enumerated() { buffer[i] = b }
        buffer.setU32(formatVersion, 8)
        buffer.setU32(UInt32(pageSize), 12)
        withUnsafeBytes(of: uuid.uuid) { buffer.setBytes($0, 16) }
        buffer.setU64(generation, 32)
        buffer.setU64(createdAt, 40)
        buffer.setU32(crc32c(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0 ..< 60])), 60)
    }

    /// Decodes and validates the first 64 bytes of a data file.
    package static func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws -> FileHeader {
        guard bytes.count >= encodedSize else {
            throw CowDBError.notADatabase(path: path, reason: "file is \(bytes.count) bytes, shorter than a header")
        }
        guard Array(bytes[0 ..< 8]) == magic else {
            throw CowDBError.notADatabase(path: path, reason: "bad magic number")
        }
        let stored = bytes.u32(60)
        guard stored == crc32c(UnsafeRawBufferPointer(rebasing: bytes[0 ..< 60])) else {
            throw CowDBError.corrupt(page: 0, offset: 60, reason: "file header checksum mismatch")
        }
        let version = bytes.u32(8)
        guard version == currentFormatVersion else { throw CowDBError.unsupportedFormatVersion(version) }
        let pageSize = Int(bytes.u32(12))
        guard PageLayout.isValidPageSize(pageSize) else {
            throw CowDBError.corrupt(page: 0, offset: 12, reason: "page size \(pageSize) is not a power of two in 4096...65536")
        }
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[16 ..< 32])) }
        return FileHeader(formatVersion: version, pageSize: pageSize, uuid: UUID(uuid: raw),
                          generation: bytes.u64(32), createdAt: bytes.u64(40))
    }
}
