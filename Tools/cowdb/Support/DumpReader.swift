/// A malformed line in a dump: where, and what is wrong with it.
struct DumpInputError: Error, CustomStringConvertible {
    /// The input's name ("standard input" or a path).
    let input: String
    /// The 1-based line number.
    let line: Int
    /// What is wrong.
    let message: String

    var description: String { "\(input), line \(line): \(message)" }
}

/// Reads the `mdb_dump` text format (see `DumpFormat.swift`) as any LMDB version writes it,
/// block by block and record by record, in memory bounded by the longest line. Also reads
/// `mdb_load -T` plain text: no header, a key line then a value line, in the print encoding
/// without the leading space, up to the end of the input.
///
/// It is as strict as `mdb_load` about structure (a header needs `HEADER=END`, a record line
/// exactly one leading space, a block `DATA=END`, hex an even number of digits) and names the
/// line of any error. One leniency: in print format a backslash not followed by a backslash or
/// two hex digits is read as itself, with a warning, because LMDB 0.9.24 wrote backslashes bare.
struct DumpReader {
    private let lines: LineReader
    private let plainText: Bool
    private let warn: (String) -> Void
    /// The header of the block being read (nil before the first and after the last).
    private(set) var header: DumpHeader?
    /// The line where the current record's key was read.
    private(set) var recordLine = 0
    private var blockStartLine = 0
    private var deliveredPlainBlock = false
    private var warnedAboutBackslash = false

    /// A reader of `lines`; `plainText` for `-T` input. `warn` receives warnings (one line each).
    init(lines: LineReader, plainText: Bool, warn: @escaping (String) -> Void) {
        self.lines = lines
        self.plainText = plainText
        self.warn = warn
    }

    // MARK: Blocks

    /// Reads the next block's header; nil at the end of the input.
    mutating func nextBlock() throws -> DumpHeader? {
        header = nil
        if plainText {
            guard !deliveredPlainBlock else { return nil }
            deliveredPlainBlock = true
            header = DumpHeader(encoding: .print)
            return header
        }
        var parsed = DumpHeader(formatVersion: 3, encoding: .bytevalue)
        blockStartLine = lines.lineNumber + 1
        var sawLine = false
        while true {
            let finished: Bool? = try lines.readLine { line, _ in try parseHeaderLine(line, into: &parsed) }
            guard let finished else {
                if !sawLine { return nil }
                throw error(lines.lineNumber + 1, "unexpected end of input: the header that starts at line \(blockStartLine) has no HEADER=END (is the input truncated?)")
            }
            sawLine = true
            if finished { break }
        }
        header = parsed
        return parsed
    }

    /// Applies one header line; returns true at `HEADER=END`.
    private mutating func parseHeaderLine(_ line: UnsafeBufferPointer<UInt8>, into header: inout DumpHeader) throws -> Bool {
        let number = lines.lineNumber
        if line.elementsEqual(DumpFormat.headerEnd.utf8) { return true }
        if line.first == UInt8(ascii: " ") {
            throw error(number, "a record line inside the header (is HEADER=END missing?)")
        }
        guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else {
            throw error(number, "expected a header line KEYWORD=VALUE or HEADER=END, found \(ByteEscaping.quoted(String(decoding: line, as: UTF8.self)))")
        }
        let keyword = String(decoding: line[..<equals], as: UTF8.self)
        let valueBytes = line[(equals + 1)...]
        let value = String(decoding: valueBytes, as: UTF8.self)
        switch keyword {
        case "VERSION":
            guard let version = Int(value), (1 ... 3).contains(version) else {
                throw error(number, "unsupported VERSION=\(ByteEscaping.printable(valueBytes)) (cowdb reads versions 1 to 3)")
            }
            header.formatVersion = version
        case "format":
            guard let encoding = DumpEncoding(rawValue: value) else {
                throw error(number, "unsupported format=\(ByteEscaping.printable(valueBytes)) (expected bytevalue or print)")
            }
            header.encoding = encoding
        case "type":
            guard value == "btree" else {
                throw error(number, "unsupported type=\(ByteEscaping.printable(valueBytes)) (expected btree)")
            }
        case "database":
            header.database = try keyspaceName(valueBytes, line: number)
        default:
            if DumpFormat.environmentKeywords.contains(keyword) { break }
            if let why = DumpFormat.unsupportedFlags[keyword] {
                guard value == "0" else {
                    throw error(number, "\(keyword)=\(ByteEscaping.printable(valueBytes)): the database uses \(why); CowDB cannot load it faithfully")
                }
                break
            }
            warn("\(lines.name), line \(number): unrecognized keyword ignored: \(ByteEscaping.printable(keyword.utf8))")
        }
        return false
    }

    /// Validates a `database=` name as a keyspace name.
    private func keyspaceName(_ bytes: Slice<UnsafeBufferPointer<UInt8>>, line: Int) throws -> String {
        guard let name = String(validating: bytes, as: UTF8.self) else {
            throw error(line, "database name \(ByteEscaping.quoted(String(decoding: bytes, as: UTF8.self))) is not UTF-8 (keyspace names are text)")
        }
        guard !bytes.isEmpty, bytes.count <= 255, !bytes.contains(0), !bytes.contains(13) else {
            throw error(line, "database name \(ByteEscaping.quoted(name)) is not a valid keyspace name (1-255 bytes, no NUL or carriage return)")
        }
        return name
    }

    // MARK: Records

    /// Reads the next record of the current block; nil at `DATA=END` (or, for plain text, at
    /// the end of the input). Each key and value is a fresh array of exactly its bytes: a write
    /// transaction keeps the arrays it is given until it writes them out, so reused buffers or
    /// spare capacity would cost memory beyond the engine's dirty-page budget.
    mutating func nextRecord() throws -> (key: [UInt8], value: [UInt8])? {
        guard header != nil else { return nil }
        guard let key = try readRecordLine(isKey: true) else {
            header = nil
            return nil
        }
        recordLine = lines.lineNumber
        guard let value = try readRecordLine(isKey: false) else {
            throw error(lines.lineNumber, "DATA=END after the key on line \(recordLine): the record has no value line")
        }
        return (key, value)
    }

    /// What a record line turned out to be.
    private enum LineKind { case record([UInt8]), dataEnd }

    /// Reads and decodes one record line; nil at the end of the block.
    private mutating func readRecordLine(isKey: Bool) throws -> [UInt8]? {
        let encoding = header?.encoding ?? .bytevalue
        let kind: LineKind? = try lines.readLine { line, terminated in
            let number = lines.lineNumber
            if plainText { return .record(decodePrintable(line[...], line: number)) }
            if line.first == UInt8(ascii: " ") {
                guard terminated else {
                    throw error(number, "unexpected end of input in the middle of a record line (is the input truncated?)")
                }
                switch encoding {
                case .bytevalue: return .record(try decodeHex(line[1...], line: number))
                case .print: return .record(decodePrintable(line[1...], line: number))
                }
            }
            if line.elementsEqual(DumpFormat.dataEnd.utf8) { return .dataEnd }
            throw error(number, "expected a record line (one space, then the \(encoding.rawValue) bytes) or DATA=END, found \(ByteEscaping.quoted(String(decoding: line.prefix(40), as: UTF8.self)))\(line.count > 40 ? "…" : "")")
        }
        switch kind {
        case let .record(bytes)?: return bytes
        case .dataEnd?: return nil
        case nil:
            if plainText {
                if isKey { return nil }
                throw error(lines.lineNumber + 1, "unexpected end of input: the key on line \(lines.lineNumber) has no value line")
            }
            throw error(lines.lineNumber + 1, "unexpected end of input: the block that starts at line \(blockStartLine) has no DATA=END (is the input truncated?)")
        }
    }

    // MARK: Decoding

    /// Two hex digits per byte, into an array of exactly that many bytes; an odd count or any
    /// other character is an error.
    private func decodeHex(_ text: Slice<UnsafeBufferPointer<UInt8>>, line: Int) throws -> [UInt8] {
        guard text.count % 2 == 0 else {
            throw error(line, "odd number of hex digits (\(text.count)): a bytevalue line holds two hex digits per byte")
        }
        let values = ByteEscaping.hexValues
        return try [UInt8](unsafeUninitializedCapacity: text.count / 2) { bytes, count in
            var i = text.startIndex
            while i < text.endIndex {
                let high = values[Int(text[i])], low = values[Int(text[i + 1])]
                guard high >= 0, low >= 0 else {
                    let bad = high < 0 ? i : i + 1
                    throw error(line, "not a hex digit at column \(bad + 1): \(ByteEscaping.quoted(String(decoding: [text[bad]], as: UTF8.self)))")
                }
                bytes[count] = UInt8(high) << 4 | UInt8(low)
                count += 1
                i += 2
            }
        }
    }

    /// The print encoding: `\\` is a backslash, `\xx` a byte, anything else itself.
    private mutating func decodePrintable(_ text: Slice<UnsafeBufferPointer<UInt8>>, line: Int) -> [UInt8] {
        let values = ByteEscaping.hexValues
        let backslash = ByteEscaping.backslash
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count)
        var i = text.startIndex
        while i < text.endIndex {
            let byte = text[i]
            guard byte == backslash else {
                bytes.append(byte)
                i += 1
                continue
            }
            if i + 1 < text.endIndex, text[i + 1] == backslash {
                bytes.append(backslash)
                i += 2
            } else if i + 2 < text.endIndex, values[Int(text[i + 1])] >= 0, values[Int(text[i + 2])] >= 0 {
                bytes.append(UInt8(values[Int(text[i + 1])]) << 4 | UInt8(values[Int(text[i + 2])]))
                i += 3
            } else {
                bytes.append(backslash)
                i += 1
                warnBareBackslash(line)
            }
        }
        // An escaped line is longer than its bytes: hand out an exact copy, not the spare capacity.
        return bytes.count == text.count ? bytes : bytes.withUnsafeBufferPointer { Array($0) }
    }

    /// Warns once that a bare backslash was read as itself.
    private mutating func warnBareBackslash(_ line: Int) {
        guard !warnedAboutBackslash else { return }
        warnedAboutBackslash = true
        warn("\(lines.name), line \(line): a backslash not followed by another backslash or two hex digits was read as itself "
            + "(LMDB 0.9.24 writes backslashes bare in print format, which makes \\xx ambiguous; dump with format=bytevalue instead)")
    }

    /// An error at `line` of the input.
    private func error(_ line: Int, _ message: String) -> DumpInputError {
        DumpInputError(input: lines.name, line: line, message: message)
    }
}
