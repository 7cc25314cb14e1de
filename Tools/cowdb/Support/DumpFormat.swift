// LMDB's `mdb_dump` text format, which `cowdb dump` writes and `cowdb load` reads:
//
//     VERSION=3                 always 3
//     format=bytevalue          or format=print
//     database=users            only for a named keyspace (LMDB: a named database)
//     type=btree
//     mapsize=8388608           environment lines: how big an LMDB map mdb_load should create,
//     maxreaders=126            its reader slots and page size; they describe no data
//     db_pagesize=4096
//     HEADER=END
//      6b6579                   one record per two lines: the key, then the value, each line
//      76616c7565               starting with exactly one space (an empty value is a lone space)
//     DATA=END
//
// A dump holds one such block per keyspace. In `format=bytevalue` each byte is two lowercase hex
// digits. In `format=print` the bytes 0x20…0x7E stand for themselves, a backslash is written `\\`
// (LMDB 0.9.25 and later) and any other byte as `\` and two hex digits. LMDB 0.9.24, which Debian
// ships, wrote a backslash bare, so `\41` in its print output may mean "A" or the three bytes
// `\41`: nothing can decode that for certain, which is why bytevalue is the default.

/// The record encoding of a dump block.
enum DumpEncoding: String, Sendable {
    /// Two lowercase hex digits per byte (the default of `mdb_dump` and `cowdb dump`).
    case bytevalue
    /// Printable bytes as themselves, the rest escaped (`mdb_dump -p`, `cowdb dump -p`).
    case print
}

/// The header of one dump block: what `mdb_dump` writes between `VERSION=3` and `HEADER=END`.
struct DumpHeader: Equatable, Sendable {
    /// The format version; `mdb_dump` writes 3 and `mdb_load` reads 1…3.
    var formatVersion = 3
    /// How the records are encoded.
    var encoding: DumpEncoding = .bytevalue
    /// The keyspace (LMDB: named database); nil for the default keyspace.
    var database: String?
    /// `mapsize=`: the LMDB map size `mdb_load` should use, in bytes.
    var mapSize: UInt64?
    /// `maxreaders=`: LMDB reader slots.
    var maxReaders: Int?
    /// `db_pagesize=`: the page size of the dumped database.
    var pageSize: Int?

    /// The header lines, `VERSION=3` through `HEADER=END`, in `mdb_dump`'s order.
    var text: String {
        var lines = ["VERSION=\(formatVersion)", "format=\(encoding.rawValue)"]
        if let database { lines.append("database=\(database)") }
        lines.append("type=btree")
        if let mapSize { lines.append("mapsize=\(mapSize)") }
        if let maxReaders { lines.append("maxreaders=\(maxReaders)") }
        if let pageSize { lines.append("db_pagesize=\(pageSize)") }
        lines.append("HEADER=END")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Header facts shared by the dump writer and reader.
enum DumpFormat {
    /// The line that ends a block's records.
    static let dataEnd = "DATA=END"
    /// The line that ends a header.
    static let headerEnd = "HEADER=END"

    /// LMDB's default reader slots, written as `maxreaders=` so the header has `mdb_dump`'s lines.
    static let lmdbDefaultMaxReaders = 126

    /// LMDB database flags CowDB cannot honour, with why. `mdb_load` would apply them; silently
    /// dropping them would load different data (duplicates merged, keys in another order).
    static let unsupportedFlags: [String: String] = [
        "dupsort": "keys with several sorted values (CowDB keeps one value per key)",
        "duplicates": "keys with several sorted values (CowDB keeps one value per key)",
        "dupfixed": "fixed-size duplicate values (CowDB keeps one value per key)",
        "integerdup": "integer duplicate values (CowDB keeps one value per key)",
        "reversedup": "duplicate values compared back to front (CowDB keeps one value per key)",
        "integerkey": "native-integer key order (CowDB orders keys as unsigned bytes)",
        "reversekey": "keys compared back to front (CowDB orders keys as unsigned bytes)",
    ]

    /// Header keywords that describe the LMDB environment: read and ignored without a warning.
    static let environmentKeywords: Set<String> = ["mapsize", "maxreaders", "mapaddr", "db_pagesize"]

    /// The `mapsize=` to write for a dump of a version whose data file was `fileBytes` long:
    /// eight times that (the version's records cannot take more room than the file up to its
    /// commit, and LMDB, filling pages half when loading in key order, needs about twice what
    /// CowDB does; a hex dump is twice the bytes it encodes), rounded up to whole MiB, at least
    /// LMDB's 1 MiB default. LMDB only reserves address space for the map, so a generous map
    /// costs nothing, while a small one stops `mdb_load` with MDB_MAP_FULL.
    static func mapSize(forFileBytes fileBytes: UInt64) -> UInt64 {
        let mebibyte: UInt64 = 1 << 20
        let wanted = max(mebibyte, fileBytes.multipliedReportingOverflow(by: 8).partialValue)
        return (wanted + mebibyte - 1) / mebibyte * mebibyte
    }
}

/// Writes dump blocks to a `BufferedOutput`: a header, records, `DATA=END`.
struct DumpWriter {
    /// Where the text goes.
    let output: BufferedOutput
    /// How records are encoded.
    let encoding: DumpEncoding

    /// Writes a block's header.
    func beginBlock(_ header: DumpHeader) throws {
        try output.write(header.text)
    }

    /// Writes one record: the key line and the value line.
    func writeRecord(key: [UInt8], value: [UInt8]) throws {
        try writeLine(key)
        try writeLine(value)
    }

    /// Writes `DATA=END`.
    func endBlock() throws {
        try output.write(DumpFormat.dataEnd + "\n")
    }

    /// One record line: a space, the encoded bytes, a newline.
    private func writeLine(_ bytes: [UInt8]) throws {
        try output.write(byte: UInt8(ascii: " "))
        try bytes.withUnsafeBytes { raw in
            switch encoding {
            case .bytevalue: try output.writeHex(raw)
            case .print: try output.writePrintable(raw)
            }
        }
        try output.write(byte: UInt8(ascii: "\n"))
    }
}
