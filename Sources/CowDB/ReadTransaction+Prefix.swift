import CowDBFormat

// Prefix scans: the keys that start with a prefix are exactly those in [prefix, end), where
// end is the least key greater than all of them (`Database.end(ofPrefix:)`).

extension ReadTransaction {
    /// Entries of the default keyspace whose key starts with `prefix`, ascending or descending
    /// (an empty prefix: every entry).
    public func scan<Prefix: ByteRepresentable>(prefix: Prefix, reverse: Bool = false) throws -> ScanSequence {
        let prefix = byteArray(prefix)
        return try scan(in: nil, from: prefix.isEmpty ? nil : prefix, to: Database.end(ofPrefix: prefix), reverse: reverse)
    }
}

extension Keyspace {
    /// Entries whose key starts with `prefix`, ascending or descending (an empty prefix: every entry).
    public func scan<Prefix: ByteRepresentable>(prefix: Prefix, reverse: Bool = false) throws -> ScanSequence {
        let prefix = byteArray(prefix)
        return try transaction.scan(in: name, from: prefix.isEmpty ? nil : prefix, to: Database.end(ofPrefix: prefix), reverse: reverse)
    }
}

extension Snapshot {
    /// Entries of the default keyspace whose key starts with `prefix`, collected into an array.
    public func scan<Prefix: ByteRepresentable>(prefix: Prefix, reverse: Bool = false) throws -> [(key: [UInt8], value: [UInt8])] {
        try read { Array(try $0.scan(prefix: prefix, reverse: reverse)) }
    }
}

extension Database {
    /// The least key greater than every key that starts with `prefix` (nil: there is none, the
    /// prefix being empty or all 0xFF bytes): drop the trailing 0xFF bytes, add one to the last.
    package static func end(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var end = prefix
        while let last = end.last, last == 0xFF { end.removeLast() }
        guard !end.isEmpty else { return nil }
        end[end.count - 1] += 1
        return end
    }
}
