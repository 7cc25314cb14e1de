import ArgumentParser
import CowDB

/// `cowdb versions`: the version history.
struct VersionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versions",
        abstract: "List the committed versions: number, commit time, entries, bytes appended.",
        discussion: """
            Lists versions oldest first: the version number, its commit time (ISO 8601, UTC, to the \
            nanosecond: give it back to --as-of to select that very version), the entries in all \
            keyspaces at that version and the bytes its commit appended to the data file. --limit N \
            keeps the newest N of those listed.

            Examples:
              cowdb versions app.cowdb
              cowdb versions app.cowdb --since -1h --limit 20
              cowdb versions app.cowdb --json | jq '.[-1].version'
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Option(parsing: .unconditional, help: ArgumentHelp("Only versions committed at or after TIME. \(Timestamps.accepted)", valueName: "TIME"))
    var since: String?

    @Option(help: ArgumentHelp("Only the newest N versions listed.", valueName: "N"))
    var limit: Int?

    @Flag(help: "Print a JSON array of objects: version, timestamp (ISO 8601), timestampNanoseconds, entries, bytes, fileBytes.")
    var json = false

    /// Rejects a negative limit.
    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    // MARK: Running

    /// Prints the versions selected, as a table or JSON.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        var versions = try db.versions()
        if let since {
            let time = try Timestamps.parse(since)
            versions.removeAll { $0.timestampNanoseconds < time }
        }
        if let limit { versions = Array(versions.suffix(limit)) }
        let output = BufferedOutput.standardOutput()
        try output.write(json ? jsonText(versions) : table(versions))
        try output.close()
    }

    /// The versions as an aligned table with a heading.
    private func table(_ versions: [VersionInfo]) -> String {
        let rows = versions.map { info in
            [String(info.version), Timestamps.iso8601(nanoseconds: info.timestampNanoseconds), String(info.entryCount), String(info.appendedBytes)]
        }
        let heading = ["VERSION", "TIMESTAMP", "ENTRIES", "BYTES"]
        let widths = (0 ..< 4).map { column in ([heading] + rows).map { $0[column].count }.max() ?? 0 }
        /// One row: numbers right-aligned, the timestamp left-aligned.
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 1 ? cell + padding : padding + cell
            }.joined(separator: "  ")
        }
        return ([line(heading)] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// The versions as a JSON array, one object per line.
    private func jsonText(_ versions: [VersionInfo]) -> String {
        let objects = versions.map { info in
            "  {\"version\": \(info.version), \"timestamp\": \"\(Timestamps.iso8601(nanoseconds: info.timestampNanoseconds))\", "
                + "\"timestampNanoseconds\": \(info.timestampNanoseconds), \"entries\": \(info.entryCount), "
                + "\"bytes\": \(info.appendedBytes), \"fileBytes\": \(info.fileLength)}"
        }
        return objects.isEmpty ? "[]\n" : "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }
}
