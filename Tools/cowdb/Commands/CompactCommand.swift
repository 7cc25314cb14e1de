import ArgumentParser
import CowDB
import Foundation

/// `cowdb compact`: shrink the file, keeping the versions asked for.
struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite the database keeping only chosen versions, and switch to it atomically.",
        discussion: """
            Writes a new generation of the data file holding the versions to keep — always the \
            latest; with no option, the latest and the tagged ones — under their own numbers and \
            commit times, then switches to it with one atomic rename. Versions not kept are gone \
            afterwards (reading one is "unknown version"). Needs the write lock: fails with \
            "locked" while another process has the database open for writing. Readers in other \
            processes keep working and move to the new file.

            Examples:
              cowdb compact app.cowdb
              cowdb compact app.cowdb --keep-last 100 --keep-tags
              cowdb compact app.cowdb --keep-since -7d
              cowdb compact app.cowdb --keep-all
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Option(help: ArgumentHelp("Keep the newest N versions.", valueName: "N"))
    var keepLast: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Keep the versions committed at or after TIME. \(Timestamps.accepted)", valueName: "TIME"))
    var keepSince: String?

    @Flag(help: "Keep every tagged version (the default when no other option is given).")
    var keepTags = false

    @Flag(help: "Keep every version: only repack.")
    var keepAll = false

    /// Rejects a negative count.
    func validate() throws {
        if let keepLast, keepLast < 1 { throw ValidationError("--keep-last must be at least 1") }
    }

    // MARK: Running

    /// Compacts and reports what it kept and saved.
    func run() throws {
        let db = try DatabaseAccess.openForWriting(database, create: false)
        defer { try? db.close() }
        let anyOption = keepLast != nil || keepSince != nil || keepTags || keepAll
        let since = try keepSince.map { Date(timeIntervalSince1970: Double(try Timestamps.parse($0)) / 1e9) }
        let policy = RetentionPolicy(keepLast: keepLast, keepSince: since, keepTags: keepTags || !anyOption, keepAll: keepAll)
        let report = try db.compact(keeping: policy)
        try db.close()
        let output = BufferedOutput.standardOutput()
        let saved = report.bytesBefore > report.bytesAfter ? report.bytesBefore - report.bytesAfter : 0
        try output.write("kept \(report.versionsKept) of \(report.versionsBefore) versions; data file \(report.bytesBefore) → \(report.bytesAfter) bytes (\(saved) saved) in \(String(format: "%.2f", report.seconds)) s; generation \(report.generation)\n")
        try output.close()
    }
}
