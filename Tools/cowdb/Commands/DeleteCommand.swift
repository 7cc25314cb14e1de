import ArgumentParser
import CowDB

/// `cowdb delete`: removes a key, as one new version.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Remove a key (one commit: one new version; older versions keep it).",
        discussion: """
            A key that is not there commits nothing and is exit code 3.

            Examples:
              cowdb delete app.cowdb greeting
              cowdb delete app.cowdb -s users ann
              cowdb delete app.cowdb --hex 00ff
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Argument(help: "The key (text, or hex with --hex).")
    var key: String

    @OptionGroup var keyOptions: KeyOptions

    // MARK: Running

    /// Commits the delete.
    func run() throws {
        let keyBytes = try keyOptions.bytes(key, what: "key")
        let db = try DatabaseAccess.openForWriting(database, create: false)
        defer { try? db.close() }
        let (deleted, version) = try db.write { txn in
            (try DatabaseAccess.keyspace(keyOptions.keyspace, in: txn).delete(keyBytes), txn.version)
        }
        guard deleted else {
            throw ToolError.notFound("key \(ByteEscaping.quoted(keyOptions.show(keyBytes))) not found \(keyOptions.keyspaceDescription) at version \(version)")
        }
        try db.close()
    }
}
