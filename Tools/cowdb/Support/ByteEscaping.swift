/// How the tool turns bytes into text and back: lowercase hex (`format=bytevalue`, `--hex`) and
/// LMDB's printable form (`format=print`, and every key or value shown on a terminal).
///
/// The printable form keeps the bytes 0x20…0x7E as they are, except the backslash, which is
/// written `\\`; every other byte is written as a backslash and two lowercase hex digits
/// (`\0a`). That is exactly what `mdb_dump -p` writes since LMDB 0.9.25, and it never lets a
/// control byte or a stray UTF-8 sequence reach the terminal.
enum ByteEscaping {
    // MARK: Tables

    /// The ASCII codes of the 16 lowercase hex digits.
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The value of each byte as a hex digit, or -1 (both cases accepted).
    static let hexValues: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, digit) in "0123456789abcdef".utf8.enumerated() { table[Int(digit)] = Int8(i) }
        for (i, digit) in "ABCDEF".utf8.enumerated() { table[Int(digit)] = Int8(10 + i) }
        return table
    }()

    /// The ASCII backslash.
    static let backslash = UInt8(ascii: "\\")

    /// Whether a byte is written as itself in the printable form (C's `isprint` in the C locale).
    @inline(__always)
    static func isPrintable(_ byte: UInt8) -> Bool { byte >= 0x20 && byte <= 0x7E }

    // MARK: Encoding to strings (short keys and values)

    /// Lowercase hex of `bytes`.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The printable form of `bytes` (safe to show on a terminal).
    static func printable(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            if isPrintable(byte) {
                if byte == backslash { out.append(backslash) }
                out.append(byte)
            } else {
                out.append(backslash)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A name in double quotes, escaped, for messages (`"users"`, `"a\0ab"`).
    static func quoted(_ name: String) -> String {
        "\"" + printable(Array(name.utf8)).replacingOccurrences(of: "\"", with: "\\22") + "\""
    }

    // MARK: Decoding

    /// Decodes hex text (either case). Returns nil for an odd length or a non-hex character.
    static func decodeHex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            let high = hexValues[Int(digits[i])], low = hexValues[Int(digits[i + 1])]
            guard high >= 0, low >= 0 else { return nil }
            out.append(UInt8(high) << 4 | UInt8(low))
            i += 2
        }
        return out
    }
}
