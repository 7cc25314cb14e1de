import ArgumentParser
import CowDB
import Foundation

/// `cowdb watch`: each commit's changes as it lands, until interrupted (the change feed).
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print each commit's changes as it lands, until interrupted.",
        discussion: """
            Follows the database (read-only, beside its writer in another process) and prints, for \
            every commit after version N (default: the latest at start), a line '# version V TIME' \
            and its changes to the keyspace as diff prints them between V-1 and V ('+', '-', '~' \
            lines). A commit that changed nothing there prints only its line. --json prints one \
            object per change instead, as diff --json does, with "version" added.

            It waits without polling: the writer's publication wakes it. A version dropped by \
            retention (compaction) before it was printed ends the watch with an error; resume \
            with --after at the last version printed.

            Examples:
              cowdb watch app.cowdb
              cowdb watch app.cowdb --after 120 -s users --json
            """)

    @Argument(help: ArgumentHelp("The database directory."))
    var database: String

    @Option(help: ArgumentHelp("Print the commits after this version (default: the latest).", valueName: "N"))
    var after: UInt64?

    @Option(name: [.customShort("s"), .customLong("keyspace")], help: ArgumentHelp("The named keyspace (default: the default keyspace).", valueName: "KEYSPACE"))
    var keyspace: String?

    @Flag(help: "One JSON object per change, as diff --json with \"version\".")
    var json = false

    @Flag(help: "Keys and values as hex (text output; JSON is always hex).")
    var hex = false

    /// Follows the feed until interrupted or until it fails.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let feed = db.changes(after: after ?? db.latestVersion, keyspace: keyspace)
        let (hex, json) = (hex, json)
        try AsyncCommand.run {
            do {
                let output = BufferedOutput.standardOutput()
                for try await commit in feed {
                    try Self.print(commit, json: json, output: DiffOutput(hex: hex), to: output)
                    try output.flush()
                }
            } catch CowDBError.versionNotFound(let missing) {
                throw ToolError.failure("version \(missing) is no longer in the database (dropped by compaction); resume with --after \(db.latestVersion)")
            }
        }
    }

    /// One commit: its line and its changes (text), or one JSON object per change.
    private static func print(_ commit: CommitChanges, json: Bool, output format: DiffOutput, to output: BufferedOutput) throws {
        if !json {
            let nanoseconds = UInt64(max(0, commit.timestamp.timeIntervalSince1970 * 1e9))
            try output.write("# version \(commit.version) \(Timestamps.iso8601(nanoseconds: nanoseconds))\n")
        }
        for entry in commit.entries {
            try entry.withParts { parts in
                json ? try format.write(json: parts, version: commit.version, to: output) : try format.write(text: parts, to: output)
            }
        }
    }
}
