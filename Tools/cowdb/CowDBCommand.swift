import ArgumentParser
import CowDB
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `cowdb` command-line tool: inspect and move CowDB databases the way LMDB users use
/// `mdb_dump`, `mdb_load` and `mdb_stat`.
@main
struct CowDBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cowdb",
        abstract: "Inspect and use CowDB databases: an embedded, versioned key-value store.",
        discussion: """
            A database is a directory. Reading commands open it read-only (they work while another \
            process writes) and act on the latest version, or on an older one with --version N or \
            --as-of TIME. dump and load speak LMDB's mdb_dump text format.

            Examples:
              cowdb demo
              cowdb versions app.cowdb
              cowdb diff app.cowdb 3 latest --all-keyspaces
              cowdb dump app.cowdb -a > app.dump && cowdb load copy.cowdb -f app.dump
              mdb_dump -a lmdb-env | cowdb load app.cowdb

            Exit codes: 0 success; 1 error; 2 the database is damaged; 3 key not found; 64 usage error.
            """,
        subcommands: [
            DumpCommand.self, LoadCommand.self, VersionsCommand.self,
            GetCommand.self, PutCommand.self, DeleteCommand.self, ScanCommand.self, DiffCommand.self,
            StatCommand.self, CheckCommand.self, WatchCommand.self,
            RollbackCommand.self, TagCommand.self, TagsCommand.self, UntagCommand.self,
            CompactCommand.self, BackupCommand.self, CopyCommand.self,
            ReplicateCommand.self, RestoreCommand.self, FollowCommand.self,
            DemoCommand.self,
        ])

    // MARK: Entry point

    /// Parses the arguments and runs the command. Every failure ends here: one line on
    /// standard error and a non-zero exit code, never a stack trace.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            fail(error)
        }
        terminate(0)
    }

    /// Reports `error` and exits with its code.
    static func fail(_ error: any Error) -> Never {
        fflush(nil)
        if error is ToolError || error is CowDBError || error is DumpInputError {
            let failure = ToolError.from(error)
            ProgressBar.writeToStandardError("cowdb: error: \(failure.message)\n")
            terminate(failure.exitCode)
        }
        // An argument-parsing outcome: help and version requests exit 0 through ArgumentParser;
        // usage errors keep its usage text, under the tool's error prefix.
        let code = exitCode(for: error)
        if code == .success { exit(withError: error) }
        var message = fullMessage(for: error)
        if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
        ProgressBar.writeToStandardError("cowdb: error: \(message)\n")
        terminate(code.rawValue)
    }
}

/// Ends the process with `code`, flushing C's output streams. The corresponding C function is `exit`.
private func terminate(_ code: Int32) -> Never {
    fflush(nil)
    #if canImport(Glibc)
    Glibc.exit(code)
    #else
    Darwin.exit(code)
    #endif
}
