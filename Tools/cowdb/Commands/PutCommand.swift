import ArgumentParser
import CowDB

/// `cowdb put`: stores a value under a key, as one new version.
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a value under a key (one commit: one new version).",
        discussion: """
            Creates the database, and the keyspace given with -s, when missing. Replaces an existing \
            value unless --no-overwrite is given. Keys and values are text, or hex with --hex (the \
            only way to give bytes that are not UTF-8 text).

            Examples:
              cowdb put app.cowdb greeting 'hello, world'
              cowdb put app.cowdb -s users ann admin
              cowdb put app.cowdb --hex 00ff 0102
            """)

    @Argument(help: "The database directory (created if missing).")
    var database: String

    @Argument(help: "The key (text, or hex with --hex).")
    var key: String

    @Argument(help: "The value (text, or hex with --hex).")
    var value: String

    @OptionGroup var keyOptions: KeyOptions

    @Flag(name: [.customShort("N"), .customLong("no-overwrite")], help: "Keep an existing value (exit code 1 if the key exists).")
    var noOverwrite = false

    // MARK: Running

    /// Commits the put.
    func run() throws {
        let keyBytes = try keyOptions.bytes(key, what: "key")
        let valueBytes = try keyOptions.bytes(value, what: "value")
        let db = try DatabaseAccess.openForWriting(database, create: true)
        defer { try? db.close() }
        let stored = try db.write { txn -> Bool in
            let keyspace = try keyOptions.keyspace.map { try txn.keyspaceCreatingIfMissing($0) } ?? txn.defaultKeyspace
            if noOverwrite { return try keyspace.insert(keyBytes, valueBytes) }
            try keyspace.put(keyBytes, valueBytes)
            return true
        }
        guard stored else {
            throw ToolError.failure("key \(ByteEscaping.quoted(keyOptions.show(keyBytes))) already exists \(keyOptions.keyspaceDescription); kept its value")
        }
        try db.close()
    }
}
