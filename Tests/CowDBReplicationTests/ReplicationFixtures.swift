import CowDB
import CowDBReplication
import CowDBTestSupport
import Foundation

// Source databases for the replication tests, written with the blocking API (these helpers
// are not async, so `write` and `read` are the blocking forms), and their contents per version.

/// Everything version `version` of `db` holds: "" for the default keyspace, then each named one.
func contents(of db: Database, at version: UInt64) throws -> [String: [[UInt8]: [UInt8]]] {
    try db.read(at: version) { tx in
        var all: [String: [[UInt8]: [UInt8]]] = ["": [:]]
        for entry in try tx.scan() { all[""]![entry.key] = entry.value }
        for name in try tx.keyspaces() {
            var entries: [[UInt8]: [UInt8]] = [:]
            for entry in try tx.keyspace(name).scan() { entries[entry.key] = entry.value }
            all[name] = entries
        }
        return all
    }
}

/// Commits `count` seeded transactions, one version each: puts (some values overflow pages),
/// deletes, a named keyspace from the third commit of a database on.
func commitRandomly(_ db: Database, count: Int, generator: inout SeededGenerator) throws {
    for _ in 0 ..< count {
        var local = generator
        try db.write { tx in
            try tx.put("seq", local.bytes(8)) // every commit changes something: one version each
            for _ in 0 ..< Int(local.next() % 6) + 1 {
                let key = b("k\(local.next() % 400)")
                switch local.next() % 10 {
                case 0: _ = try tx.delete(key)
                case 1: try tx.put(key, local.bytes(5_000 + Int(local.next() % 9_000)))
                default: try tx.put(key, local.bytes(Int(local.next() % 200)))
                }
            }
            if db.latestVersion >= 2 {
                try tx.keyspaceCreatingIfMissing("users").put(b("u\(local.next() % 50)"), local.bytes(40))
            }
        }
        generator = local
    }
}

/// Every version of `db` and its contents.
func everyVersion(of db: Database) throws -> [UInt64: [String: [[UInt8]: [UInt8]]]] {
    var all: [UInt64: [String: [[UInt8]: [UInt8]]]] = [:]
    for info in try db.versions() { all[info.version] = try contents(of: db, at: info.version) }
    return all
}

/// A client for the shared moto server.
func motoClient() async throws -> (S3Client, String) {
    let server = try await MotoServer.shared()
    return (try server.client(), try await server.freshBucket())
}
