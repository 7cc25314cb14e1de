import ArgumentParser
import CowDB
import Foundation

/// `cowdb backup`: a consistent, incremental copy of a database in use.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back a database up while it is in use; later runs append only what is new.",
        discussion: """
            Copies every version (and the tags) into DEST. The data file is append-only, so when DEST \
            holds an earlier backup of the same database (same UUID and generation, and its last \
            commit record equal to this database's at that place) only the bytes committed since are \
            appended, then verified. After a compaction (a new generation) the next backup is a full \
            one. A DEST holding another database, or one that has diverged (written to), is refused; \
            --full replaces it. Works while another process writes to DB.

            Examples:
              cowdb backup app.cowdb /backups/app.cowdb
              cowdb backup app.cowdb /backups/app.cowdb --full
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Argument(help: "The backup directory (created when missing).")
    var destination: String

    @Flag(help: "Copy everything, replacing whatever DEST holds.")
    var full = false

    // MARK: Running

    /// Backs up and says what was copied.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let report = try db.backup(to: destination, full: full)
        let output = BufferedOutput.standardOutput()
        if let previous = report.previousVersion, previous == report.version {
            try output.write("backup is up to date at version \(report.version): nothing to copy\n")
        } else if let previous = report.previousVersion {
            try output.write("incremental backup: versions \(previous + 1)-\(report.version), \(report.bytesCopied) bytes appended (\(report.fileBytes) in all)\n")
        } else {
            try output.write("full backup: \(report.version) versions, \(report.bytesCopied) bytes\n")
        }
        try output.close()
    }
}

/// `cowdb copy`: a new database holding one version.
struct CopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Write a new database holding only one version, repacked (like mdb_copy -c).",
        discussion: """
            DEST must not exist. The copy has a single version (numbered 1) with the content of the \
            version selected (default: the latest), in full pages; it is a new database, so tags are \
            not copied.

            Examples:
              cowdb copy app.cowdb app-v41.cowdb --version 41
              cowdb copy app.cowdb app-now.cowdb
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Argument(help: "The new database directory (must not exist).")
    var destination: String

    @OptionGroup var selection: VersionSelection

    // MARK: Running

    /// Copies the selected version.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        guard !FileManager.default.fileExists(atPath: destination) else { throw ToolError.failure("\(destination) already exists") }
        let version = try selection.resolve(in: db) ?? db.latestVersion
        try db.copy(to: destination, version: version)
        let output = BufferedOutput.standardOutput()
        try output.write("copied version \(version) to \(destination)\n")
        try output.close()
    }
}
