import ArgumentParser
import CowDB

/// `cowdb rollback`: make an old version's content the latest again.
struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make the content of an old version the latest, as one new version.",
        discussion: """
            Appends one commit whose content is that of the version selected (O(1): nothing is \
            copied). Every version in between stays readable, so a rollback can itself be undone \
            by rolling back to the version before it. Version 0 is the empty database. Rolling \
            back to the latest version changes nothing. Prints the new version.

            Examples:
              cowdb rollback app.cowdb 41
              cowdb rollback app.cowdb --tag before-migration
              cowdb rollback app.cowdb --as-of 2026-11-27T09:00:00Z
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Argument(help: "The version whose content to restore (or give --tag / --as-of).")
    var target: UInt64?

    @OptionGroup var selection: VersionSelection

    /// Requires exactly one way of naming the version.
    func validate() throws {
        let given = [target != nil, selection.version != nil, selection.asOf != nil, selection.tag != nil].filter { $0 }.count
        guard given == 1 else { throw ValidationError("name one version: N, --version N, --as-of TIME or --tag NAME") }
    }

    // MARK: Running

    /// Rolls back and prints what happened.
    func run() throws {
        let db = try DatabaseAccess.openForWriting(database, create: false)
        defer { try? db.close() }
        let latest = db.latestVersion
        guard let version = try target ?? selection.resolve(in: db) else { return }
        guard version <= latest else { throw ToolError.failure("unknown version \(version) (the latest is \(latest))") }
        let result = try db.rollback(to: version)
        try db.close()
        let output = BufferedOutput.standardOutput()
        if result == latest {
            try output.write("version \(version) is already the latest: nothing to do\n")
        } else {
            try output.write("version \(result): the content of version \(version)\n")
        }
        try output.close()
    }
}
