import ArgumentParser
import CowDB
import Foundation

/// `cowdb check`: verifies checksums and B-tree invariants.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify every checksum and B-tree invariant of a version, or of all versions.",
        discussion: """
            Verifies, for the latest version (or the one selected, or with --all-versions every \
            version): the checksum of every page reached, page kinds, key order within and across \
            pages, separator keys, equal depth on all paths, entry counts against the catalog and \
            the commit record, overflow runs, and that no page refers to a later one. Prints one line \
            per problem (page, offset, keyspace, what is wrong) and exits with code 2 when there is \
            any, 0 when the database is clean.

            Examples:
              cowdb check app.cowdb
              cowdb check app.cowdb --all-versions
              cowdb check app.cowdb --version 12 || echo damaged
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Flag(help: "Check every committed version, not only one.")
    var allVersions = false

    @OptionGroup var selection: VersionSelection

    @Flag(help: "Show no progress indicator.")
    var quiet = false

    /// Rejects --all-versions with a version selection.
    func validate() throws {
        if allVersions, selection.version != nil || selection.asOf != nil {
            throw ValidationError("give --all-versions or --version/--as-of, not both")
        }
    }

    // MARK: Running

    /// Runs the check and reports every problem.
    func run() throws {
        let spinner = Spinner(label: "check", enabled: ProgressBar.shouldShow(quiet: quiet))
        let report: CheckReport
        let tail: UInt64
        do {
            defer { spinner.stop() }
            do {
                let db = try DatabaseAccess.openForReading(database)
                defer { try? db.close() }
                report = try db.checkReport(version: try selection.resolve(in: db), allVersions: allVersions)
                tail = try bytesAfterLastCommit(db)
            } catch let error as CowDBError {
                // Damage found before the walk could start (the file header, the index, a commit record).
                guard case .corrupt = error else { throw error }
                throw ToolError.damaged("check failed: \(error)")
            }
        }
        if tail > 0 {
            // The engine's recovery reads a damaged last commit record as a torn write and
            // quietly ends the history before it; a write in progress looks the same from a
            // reader, so this is a warning, not a problem.
            ProgressBar.writeToStandardError("cowdb: warning: the data file has \(tail) bytes after the last intact commit "
                + "(a write in progress, an interrupted write, or a damaged commit record; a writer's next open cuts them off)\n")
        }
        let checked = CheckCommand.describe(report.versions)
        let output = BufferedOutput.standardOutput()
        guard !report.isClean else {
            try output.write("ok: \(checked): \(report.pagesVerified) pages verified, no problems\n")
            try output.close()
            return
        }
        for problem in report.problems { try output.write("\(problem)\n") }
        try output.close()
        let count = report.problems.count
        throw ToolError.damaged("check found \(count) problem\(count == 1 ? "" : "s") in \(checked)")
    }

    /// Bytes of the data file beyond the end of the last intact commit.
    /// Bytes past the last commit that are not the reserve's zeros.
    private func bytesAfterLastCommit(_ db: Database) throws -> UInt64 {
        try db.dataFileTail().unfinishedBytes
    }

    /// "version 7", "versions 1-9 (9 versions)" or "no versions".
    static func describe(_ versions: [UInt64]) -> String {
        guard let first = versions.first, let last = versions.last else { return "no versions (empty database)" }
        if versions.count == 1 { return "version \(first)" }
        return "versions \(first)-\(last) (\(versions.count) versions)"
    }
}
