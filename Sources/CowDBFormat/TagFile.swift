// The tags file (`tags` in the database directory): named versions, outside the versioned
// trees, so a tag is the same whichever version one reads. Small; rewritten whole through
// `tags.tmp` + fdatasync + rename + directory fsync, so it is always either the old or the
// new list.
//
//   offset size field
//   0      8    magic          "CowTags\0" (43 6F 77 54 61 67 73 00)
//   8      4    formatVersion  1
//   12     4    count          number of entries
//   16     …    entries, sorted by name (bytewise), each:
//                 0   2    nameLength   1 … 255
//                 2   n    name         UTF-8, no NUL, LF or CR
//                 2+n 8    version      the tagged version (0: the empty database)
//                 10+n 8   createdAt    nanoseconds since 1970 when the tag was set
//   end-4  4    checksum       CRC-32C of every byte before it

import Foundation

/// A named version.
public struct Tag: Sendable, Equatable {
    /// The tag's name.
    public let name: String
    /// The version it names.
    public let version: UInt64
    /// When the tag was set, in nanoseconds since 1970.
    public let createdAtNanoseconds: UInt64

    /// A tag naming `version`, set at `createdAtNanoseconds`.
    package init(name: String, version: UInt64, createdAtNanoseconds: UInt64) {
        (self.name, self.version, self.createdAtNanoseconds) = (name, version, createdAtNanoseconds)
    }

    /// When the tag was set.
    public var createdAt: Date { Date(timeIntervalSince1970: Double(createdAtNanoseconds) / 1e9) }
}

/// Encoding and decoding of the tags file.
package enum TagFile {
    package static let magic: [UInt8] = Array("CowTags".utf8) + [0]
    package static let formatVersion: UInt32 = 1
    /// Most tags one file may hold (a bound for hostile files, far beyond any real use).
    package static let maximumCount = 1 << 20

    /// The file's bytes for `tags` (sorted here).
    package static func encode(_ tags: [Tag]) -> [UInt8] {
        var bytes = magic
        /// Appends an integer little-endian.
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        append(formatVersion)
        append(UInt32(tags.count))
        for tag in tags.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
            let name = Array(tag.name.utf8)
            append(UInt16(name.count))
            bytes += name
            append(tag.version)
            append(tag.createdAtNanoseconds)
        }
        append(bytes.withUnsafeBytes { crc32c($0) })
        return bytes
    }

    /// Decodes a tags file; every length is checked against the bytes there are.
    package static func decode(_ bytes: [UInt8], path: String) throws -> [Tag] {
        /// A typed error naming the file and the offset.
        func corrupt(_ reason: String, at offset: Int) -> CowDBError {
            .corrupt(page: nil, offset: offset, reason: "tags file \(path): \(reason)")
        }
        guard bytes.count >= 20, Array(bytes[0 ..< 8]) == magic else { throw corrupt("bad magic or too short (\(bytes.count) bytes)", at: 0) }
        return try bytes.withUnsafeBytes { raw -> [Tag] in
            let stored = raw.u32(raw.count - 4)
            guard crc32c(UnsafeRawBufferPointer(rebasing: raw[0 ..< raw.count - 4])) == stored else {
                throw corrupt("checksum mismatch", at: raw.count - 4)
            }
            guard raw.u32(8) == formatVersion else { throw corrupt("unsupported format version \(raw.u32(8))", at: 8) }
            let count = Int(raw.u32(12))
            guard count <= maximumCount else { throw corrupt("absurd count \(count)", at: 12) }
            var tags: [Tag] = []
            var offset = 16
            let end = raw.count - 4
            for _ in 0 ..< count {
                guard offset + 2 <= end else { throw corrupt("entry past the end", at: offset) }
                let length = Int(raw.u16(offset))
                guard (1 ... 255).contains(length), offset + 2 + length + 16 <= end else { throw corrupt("bad name length \(length)", at: offset) }
                let nameBytes = Array(raw[offset + 2 ..< offset + 2 + length])
                guard let name = String(validating: nameBytes, as: UTF8.self), Tags.isValidName(name) else {
                    throw corrupt("invalid tag name", at: offset + 2)
                }
                tags.append(Tag(name: name, version: raw.u64(offset + 2 + length), createdAtNanoseconds: raw.u64(offset + 10 + length)))
                offset += 18 + length
            }
            guard offset == end else { throw corrupt("\(end - offset) stray bytes after the entries", at: offset) }
            return tags
        }
    }
}

/// Tag name rules (those of keyspace names).
package enum Tags {
    /// 1–255 bytes of UTF-8, no NUL, LF or CR.
    package static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1 ... 255).contains(bytes.count) && !bytes.contains(0) && !bytes.contains(10) && !bytes.contains(13)
    }
}
