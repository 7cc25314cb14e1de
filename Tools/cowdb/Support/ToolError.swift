import CowDB
import Foundation

/// An error the tool reports as one line on standard error (`cowdb: error: …`), with the
/// exit code that tells scripts what kind of failure it was.
///
/// Exit codes: 0 success; 1 an error (bad input, missing database, locked, unknown version or
/// keyspace, I/O); 2 the database is damaged (`check` found problems, or a command met a corrupt
/// page); 3 a key was not found (`get`, `delete`); 64 a usage error (from argument parsing).
struct ToolError: Error, CustomStringConvertible {
    /// The message, without the `cowdb: error:` prefix.
    let message: String
    /// The process exit code.
    let exitCode: Int32

    var description: String { message }

    // MARK: Kinds

    /// A plain failure (exit code 1).
    static func failure(_ message: String) -> ToolError { ToolError(message: message, exitCode: 1) }

    /// Damage in the database (exit code 2).
    static func damaged(_ message: String) -> ToolError { ToolError(message: message, exitCode: 2) }

    /// A key that is not there (exit code 3).
    static func notFound(_ message: String) -> ToolError { ToolError(message: message, exitCode: 3) }

    // MARK: Translating engine errors

    /// The tool's wording for an engine error: names the database and says what to do where
    /// the engine's own text would be terse.
    static func from(_ error: CowDBError) -> ToolError {
        switch error {
        case let .notADatabase(path, reason):
            return .failure("not a CowDB database: \(path): \(reason)")
        case let .versionNotFound(version):
            return .failure("unknown version \(version)")
        case let .keyspaceNotFound(name):
            return .failure("unknown keyspace \(ByteEscaping.quoted(name))")
        case let .locked(path):
            return .failure("database is locked: another process is writing to \(path) (retry when it has finished)")
        case .corrupt:
            return .damaged("database is damaged: \(error) (run 'cowdb check' for a full report)")
        default:
            return .failure("\(error)")
        }
    }

    /// Any error as a `ToolError`.
    static func from(_ error: any Error) -> ToolError {
        if let error = error as? ToolError { return error }
        if let error = error as? CowDBError { return from(error) }
        if let error = error as? DumpInputError { return .failure(error.description) }
        return .failure("\(error)")
    }
}
