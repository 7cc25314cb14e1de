import CowDBTestSupport
@testable import CowDB

/// Random histories for the packed-history tests: commits of puts, overwrites and deletes over
/// the default keyspace, "ks", and "tmp" (created and dropped now and then); keys from a small
/// alphabet rich in zero bytes (so they repeat), values mostly small, one in ten too large for
/// a 4 KiB leaf.
enum RandomHistory {
    /// The keyspaces (nil: the default).
    static let names: [String?] = [nil, "ks", "tmp"]

    /// A key of 1–3 bytes, or now and then one of exactly 8 or 16 (a whole group of `grp`).
    static func key(_ random: inout SeededGenerator) -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x61, 0xFF]
        let length = Int.random(in: 0 ..< 20, using: &random) == 0 ? [8, 16].randomElement(using: &random)! : Int.random(in: 1 ... 3, using: &random)
        return (0 ..< length).map { _ in alphabet.randomElement(using: &random)! }
    }

    /// A value: mostly small, one in ten an overflow run.
    static func value(_ random: inout SeededGenerator) -> [UInt8] {
        random.bytes(Int.random(in: 0 ..< 10, using: &random) == 0 ? Int.random(in: 1500 ... 5000, using: &random)
                                                                   : Int.random(in: 0 ... 40, using: &random))
    }

    /// One commit's random changes.
    static func commit(_ txn: WriteTransaction, _ random: inout SeededGenerator) throws {
        var hasTmp = try txn.keyspaces().contains("tmp")
        if Int.random(in: 0 ..< 12, using: &random) == 0 {
            if hasTmp { try txn.dropKeyspace("tmp") } else { _ = try txn.createKeyspace("tmp") }
            hasTmp.toggle()
        }
        for _ in 0 ..< Int.random(in: 1 ... 6, using: &random) {
            let name = names.randomElement(using: &random)!
            if name == "tmp" && !hasTmp { continue }
            let key = key(&random)
            let keyspace = try name.map { try txn.keyspaceCreatingIfMissing($0) }
            if Int.random(in: 0 ..< 6, using: &random) == 0 {
                _ = try keyspace.map { try $0.delete(key) } ?? txn.delete(key)
            } else {
                let value = value(&random)
                try keyspace.map { try $0.put(key, value) } ?? txn.put(key, value)
            }
        }
    }

    /// The entries of keyspace `name` (nil: the default) in the version `txn` reads; nil when
    /// the keyspace does not exist there.
    static func content(_ txn: ReadTransaction, _ name: String?) throws -> [(key: [UInt8], value: [UInt8])]? {
        guard let name else { return try txn.scan().map { ($0.key, $0.value) } }
        guard try txn.keyspaces().contains(name) else { return nil }
        return try txn.keyspace(name).scan().map { ($0.key, $0.value) }
    }

    /// Every version's content, keyspace by keyspace (the model the packed reads are held to).
    static func states(of db: Database) throws -> [UInt64: [String?: [(key: [UInt8], value: [UInt8])]]] {
        var states: [UInt64: [String?: [(key: [UInt8], value: [UInt8])]]] = [:]
        for info in try db.versions() {
            states[info.version] = try db.read(at: info.version) { txn in
                var state: [String?: [(key: [UInt8], value: [UInt8])]] = [:]
                for name in names { state[name] = try content(txn, name) ?? [] } // absent: empty
                return state
            }
        }
        return states
    }
}
