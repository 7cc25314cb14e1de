import CowDB
import Foundation

/// Opening databases the way every command does, with the tool's error wording.
enum DatabaseAccess {
    /// Opens an existing database read-only. Like every open, its reads verify the checksum of
    /// each page the first time they touch it (so a damaged page is reported, never dumped or
    /// printed as if it were data). Works while
    /// another process writes: reads see the version current when they start.
    static func openForReading(_ path: String) throws -> Database {
        try requireExisting(path)
        var options = DatabaseOptions()
        options.readOnly = true
        return try open(path, options)
    }

    /// Opens a database for writing; creates it when missing if `create`, else requires it.
    static func openForWriting(_ path: String, create: Bool) throws -> Database {
        if !create { try requireExisting(path) }
        var options = DatabaseOptions()
        options.durability = .full
        return try open(path, options)
    }

    /// Whether `path` holds something (a database or not).
    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Throws "no such database" when nothing is at `path`.
    private static func requireExisting(_ path: String) throws {
        guard exists(path) else { throw ToolError.failure("no such database: \(path)") }
    }

    /// `Database(path:options:)` with the tool's wording for what goes wrong at open.
    private static func open(_ path: String, _ options: DatabaseOptions) throws -> Database {
        do {
            return try Database(path: path, options: options)
        } catch let CowDBError.notADatabase(_, reason) {
            throw ToolError.failure("not a CowDB database: \(path) (\(reason))")
        } catch let CowDBError.io(operation, _, code) where code == EEXIST || code == ENOTDIR {
            throw ToolError.failure("not a CowDB database: \(path) (\(operation): \(String(cString: strerror(code))))")
        }
    }

    // MARK: Keyspaces

    /// The keyspace `name` (nil: the default one) of `txn`, or an error naming the keyspaces
    /// that do exist at that version.
    static func keyspace(_ name: String?, in txn: ReadTransaction) throws -> Keyspace {
        guard let name else { return try txn.defaultKeyspace }
        do {
            return try txn.keyspace(name)
        } catch CowDBError.keyspaceNotFound {
            let names = try txn.keyspaces()
            let known = names.isEmpty ? "it has no named keyspaces"
                : "named keyspaces: " + names.prefix(10).map(ByteEscaping.quoted).joined(separator: ", ") + (names.count > 10 ? ", …" : "")
            throw ToolError.failure("unknown keyspace \(ByteEscaping.quoted(name)) at version \(txn.version) (\(known))")
        }
    }
}
