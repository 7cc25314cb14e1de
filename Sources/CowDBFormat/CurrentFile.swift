// The `CURRENT` file: which generation of the data and index files is the database. Written
// only by compaction (through `CURRENT.tmp`, fdatasync, rename, directory fsync), so the
// switch to a new generation is one atomic rename. No `CURRENT` means generation 1.
//
//   offset size field
//   0      8    magic       "CowCURR\0" (43 6F 77 43 55 52 52 00)
//   8      8    generation  ≥ 1: the files are `data` and `index` for 1, `data.G` and `index.G` otherwise
//   16     4    checksum    CRC-32C of bytes [0, 16)
//
// Page 0 of the named data file repeats the generation (FileHeader.generation): a mismatch is
// corruption.

/// Encoding and naming of the generation pointer.
package enum CurrentFile {
    package static let name = "CURRENT"
    package static let temporaryName = "CURRENT.tmp"
    package static let magic: [UInt8] = Array("CowCURR".utf8) + [0]
    package static let size = 20

    /// The data file's name in generation `generation`.
    package static func dataName(_ generation: UInt64) -> String { generation <= 1 ? "data" : "data.\(generation)" }

    /// The index file's name in generation `generation`.
    package static func indexName(_ generation: UInt64) -> String { generation <= 1 ? "index" : "index.\(generation)" }

    /// The file's 20 bytes.
    package static func encode(generation: UInt64) -> [UInt8] {
        var bytes = magic
        withUnsafeBytes(of: generation.littleEndian) { bytes.append(contentsOf: $0) }
        let checksum = bytes.withUnsafeBytes { crc32c($0) }
        withUnsafeBytes(of: checksum.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The generation a `CURRENT` file names.
    package static func decode(_ bytes: [UInt8], path: String) throws -> UInt64 {
        guard bytes.count == size, Array(bytes[0 ..< 8]) == magic else {
            throw CowDBError.corrupt(page: nil, offset: 0, reason: "\(path): not a CURRENT file (\(bytes.count) bytes)")
        }
        return try bytes.withUnsafeBytes { raw in
            guard crc32c(UnsafeRawBufferPointer(rebasing: raw[0 ..< 16])) == raw.u32(16) else {
                throw CowDBError.corrupt(page: nil, offset: 16, reason: "\(path): checksum mismatch")
            }
            let generation = raw.u64(8)
            guard generation >= 1 else { throw CowDBError.corrupt(page: nil, offset: 8, reason: "\(path): generation 0") }
            return generation
        }
    }
}
