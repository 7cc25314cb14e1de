import ArgumentParser
import CowDB

/// `cowdb get`: prints the value under a key.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print the value stored under a key.",
        discussion: """
            Prints the value escaped (printable bytes as themselves, a backslash as \\\\, other bytes \
            as \\xx) so binary bytes never reach the terminal, or as hex with --hex, or exactly as \
            stored with --raw. A missing key is exit code 3.

            Examples:
              cowdb get app.cowdb greeting
              cowdb get app.cowdb -s users ann --version 3
              cowdb get app.cowdb --hex 00ff --raw > value.bin
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Argument(help: "The key (text, or hex with --hex).")
    var key: String

    @OptionGroup var keyOptions: KeyOptions

    @Flag(help: "Write the value's bytes as they are, without escaping or a newline.")
    var raw = false

    @OptionGroup var selection: VersionSelection

    // MARK: Running

    /// Reads the key at the selected version and prints its value.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let keyBytes = try keyOptions.bytes(key, what: "key")
        let (value, version) = try selection.read(db) { txn in
            (try DatabaseAccess.keyspace(keyOptions.keyspace, in: txn).get(keyBytes), txn.version)
        }
        guard let value else {
            throw ToolError.notFound("key \(ByteEscaping.quoted(keyOptions.show(keyBytes))) not found \(keyOptions.keyspaceDescription) at version \(version)")
        }
        let output = BufferedOutput.standardOutput()
        if raw {
            try value.withUnsafeBytes { try output.write($0) }
        } else {
            try output.write(keyOptions.show(value) + "\n")
        }
        try output.close()
    }
}
