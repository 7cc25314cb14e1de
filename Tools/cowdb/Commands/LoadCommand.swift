import ArgumentParser
import CowDB
import Foundation

/// `cowdb load`: reads `mdb_dump` output (any LMDB version, either format, several blocks) or
/// plain text into a database.
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load mdb_dump output (or plain text with -T) into a database, creating it if missing.",
        discussion: """
            Reads what mdb_dump of any LMDB version writes, in either format, one or several blocks; \
            a block with database=NAME goes into the named keyspace NAME (created if missing), one \
            without into the default keyspace, and -s KEYSPACE sends every block to KEYSPACE. Unknown \
            header keywords are ignored with a warning, as mdb_load does; the LMDB flags CowDB cannot \
            honour (dupsort, dupfixed, integerkey, integerdup, reversekey, reversedup) are errors.

            By default the whole load is one commit (one new version): if any line is malformed the \
            error names it and nothing is committed. Memory stays bounded however large the input. \
            With --batch N every N records are one commit, so records 1..N become one version, the \
            next N the next one, and a failed or killed load keeps the whole batches before it.

            Print format written by LMDB 0.9.24 (Debian's mdb_dump -p) leaves backslash bytes bare, \
            which no reader can decode for certain; load bytevalue dumps instead.

            Examples:
              mdb_dump -a lmdb-env | cowdb load app.cowdb
              cowdb load app.cowdb -f users.dump -s people --batch 100000
              printf 'key\\nvalue\\n' | cowdb load app.cowdb -T -N
            """)

    @Argument(help: "The database directory (created if missing).")
    var database: String

    @Option(name: [.customShort("f"), .customLong("file")], help: ArgumentHelp("Read FILE instead of standard input.", valueName: "FILE"))
    var file: String?

    @Option(name: [.customShort("s"), .customLong("keyspace")], help: ArgumentHelp("Load every block into the named keyspace KEYSPACE.", valueName: "KEYSPACE"))
    var keyspace: String?

    @Flag(name: [.customShort("T"), .customLong("text")], help: "Plain text input: a key line then a value line, print-format escapes, no header.")
    var plainText = false

    @Flag(name: [.customShort("N"), .customLong("no-overwrite")], help: "Keep the value of keys that already exist (put if absent).")
    var noOverwrite = false

    @Option(help: ArgumentHelp("Commit every N records (default: one commit for the whole load).", valueName: "N"))
    var batch: Int?

    @Flag(help: "Show no progress bar and no summary.")
    var quiet = false

    /// Rejects a batch size below 1.
    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    // MARK: Running

    /// Loads the input in one commit or in batches. On failure, says what was committed and
    /// removes a database this run created if nothing was committed to it.
    func run() throws {
        let input = try file.map(LineReader.opening) ?? LineReader.standardInput()
        let existed = DatabaseAccess.exists(database)
        let db = try DatabaseAccess.openForWriting(database, create: true)
        let showProgress = ProgressBar.shouldShow(quiet: quiet)
        let progress = ProgressBar(label: "load", unit: .bytes, total: input.totalBytes, enabled: showProgress)
        let reader = DumpReader(lines: input, plainText: plainText) { warning in
            ProgressBar.writeToStandardError((showProgress ? "\r\u{1B}[K" : "") + "cowdb: warning: \(warning)\n")
        }
        var session = LoadSession(reader: reader, lines: input, keyspace: keyspace, noOverwrite: noOverwrite, progress: progress)
        let before = db.latestVersion
        do {
            if let batch {
                var more = true
                while more {
                    more = try db.write { txn in try session.load(into: txn, limit: batch) }
                }
            } else {
                try db.write { txn in _ = try session.load(into: txn, limit: nil) }
            }
        } catch {
            progress.finish()
            let latest = db.latestVersion
            try? db.close()
            if !existed, latest == 0 { removeCreatedDatabase() }
            let failure = ToolError.from(error)
            let committed = latest > before
                ? "; the batches before it were committed (the last committed version is \(latest)) and the failed batch was rolled back"
                : "; nothing was committed"
            throw ToolError(message: failure.message + committed, exitCode: failure.exitCode)
        }
        progress.finish()
        let latest = db.latestVersion
        try db.close()
        if showProgress {
            let versions = latest > before ? "version \(before + 1 == latest ? "\(latest)" : "\(before + 1)-\(latest)")" : "no new version"
            ProgressBar.writeToStandardError("loaded \(session.records) records in \(session.blocks) block(s) into \(database): \(versions)\n")
        }
    }

    /// Removes the files a failed load created in a database directory that did not exist
    /// before (only CowDB's own files, then the directory if that left it empty).
    private func removeCreatedDatabase() {
        for name in ["data", "data.tmp", "index", "lock"] { unlink(database + "/" + name) }
        rmdir(database)
    }
}
