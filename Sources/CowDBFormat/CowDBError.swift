import Foundation
import SystemPackage

/// Every error CowDB throws. Errors from bad input name the input; errors from a damaged
/// file name the page and what was wrong; I/O errors name the operation and `errno`.
///
/// One rule for misuse: **misuse that a caller can recover from throws; a trap means CowDB's
/// own bug.** Using a database or snapshot after `close()`, or a transaction (or a keyspace,
/// cursor, scan or diff made from it) after its closure returned, throws `closed`; a nested
/// `write` on the same thread, or a change made inside `withValue`/`withEntries`, throws
/// `busy`; a bad argument throws `invalidArgument` (or the error naming it, such as
/// `emptyKey`); bytes read as a type they are not throw `typeMismatch`. A throw changes
/// nothing: the database stays usable and what was committed stays. The one call that cannot
/// throw is a `for` loop's `next()`: over a scan or diff taken out of its closure it traps,
/// since ending quietly would shorten the loop unseen (`nextOrThrow()` throws `closed` there).
public enum CowDBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key of zero bytes was given; keys are 1 or more bytes.
    case emptyKey
    /// A key longer than the database's maximum (derived from its page size).
    case keyTooLarge(size: Int, maximum: Int)
    /// A value longer than the maximum value size.
    case valueTooLarge(size: Int, maximum: Int)
    /// No committed version has this number (never committed, or dropped by compaction).
    case versionNotFound(UInt64)
    /// No version was committed at or before this time (nanoseconds since 1970).
    case noVersionAsOf(nanosecondsSince1970: UInt64)
    /// The named keyspace does not exist in the version being read.
    case keyspaceNotFound(String)
    /// `createKeyspace` was called for a name that already exists.
    case keyspaceExists(String)
    /// A keyspace name must be 1–255 bytes of UTF-8 with no NUL, newline or carriage return.
    case invalidKeyspaceName(String)
    /// Another writer (process or open handle) holds the write lock.
    case locked(path: String)
    /// The operation cannot run now (for example `close()` with live snapshots).
    case busy(String)
    /// A write was attempted through a read-only database or transaction.
    case readOnly
    /// The database or snapshot has been closed, or a transaction (or a keyspace, cursor, scan
    /// or diff made from it) was used after its closure returned.
    case closed
    /// The path does not hold a CowDB database.
    case notADatabase(path: String, reason: String)
    /// The data file was written by a newer, unknown format version.
    case unsupportedFormatVersion(UInt32)
    /// The file is damaged: where, and what was wrong. `page` is nil for damage outside pages
    /// (for example in the root-pointer log).
    case corrupt(page: UInt64?, offset: Int?, reason: String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// An option or argument is out of its allowed range.
    case invalidArgument(String)
    /// Stored bytes are not a valid value of the type asked for (`ByteRepresentable`), such
    /// as bytes that are not UTF-8 read as a `String`.
    case typeMismatch(String)
    /// An earlier `fdatasync` failed; writes are refused until the database is reopened.
    case writerPoisoned(String)
    /// No tag has this name.
    case tagNotFound(String)
    /// A tag name is empty, longer than 255 bytes, or holds NUL, LF or CR.
    case invalidTagName(String)

    /// One line saying what went wrong, as the `cowdb` tool prints it after `cowdb: error: `.
    public var description: String {
        switch self {
        case .emptyKey: return "empty key: keys must be at least 1 byte"
        case let .keyTooLarge(size, maximum): return "key too large: \(size) bytes (maximum \(maximum))"
        case let .valueTooLarge(size, maximum): return "value too large: \(size) bytes (maximum \(maximum))"
        case let .versionNotFound(version): return "version not found: \(version)"
        case let .noVersionAsOf(ns): return "no version committed at or before \(ns) ns since 1970"
        case let .keyspaceNotFound(name): return "keyspace not found: \(name)"
        case let .keyspaceExists(name): return "keyspace already exists: \(name)"
        case let .invalidKeyspaceName(name): return "invalid keyspace name: \(name.debugDescription) (1-255 bytes, no NUL, newline or carriage return)"
        case let .locked(path): return "locked: another writer holds \(path)"
        case let .busy(why): return "busy: \(why)"
        case .readOnly: return "read-only: this database or transaction cannot write"
        case .closed: return "closed: the database or snapshot was closed, or a transaction was used after its closure returned"
        case let .notADatabase(path, reason): return "not a CowDB database: \(path): \(reason)"
        case let .unsupportedFormatVersion(v): return "unsupported format version \(v)"
        case let .corrupt(page, offset, reason):
            var location = ""
            if let page { location += " page \(page)" }
            if let offset { location += " offset \(offset)" }
            return "corrupt:\(location.isEmpty ? "" : location + ":") \(reason)"
        case let .io(operation, path, errno): return "I/O error: \(operation) \(path): \(Errno(rawValue: errno).description) (errno \(errno))"
        case let .invalidArgument(why): return "invalid argument: \(why)"
        case let .typeMismatch(why): return "type mismatch: \(why)"
        case let .writerPoisoned(why): return "writer disabled after a failed sync (reopen the database): \(why)"
        case let .tagNotFound(name): return "tag not found: \(name)"
        case let .invalidTagName(name): return "invalid tag name: \(name.debugDescription) (1-255 bytes, no NUL, newline or carriage return)"
        }
    }
}

extension CowDBError {
    /// Shorthand for a `corrupt` error at a page.
    @usableFromInline package static func corruptPage(_ page: UInt64, _ reason: String, offset: Int? = nil) -> CowDBError {
        .corrupt(page: page, offset: offset, reason: reason)
    }
}

/// `localizedDescription` (and anything that shows a `LocalizedError`) gives the same text as
/// `description`, which is what the `cowdb` tool prints after `cowdb: error: `.
extension CowDBError: LocalizedError {
    /// The error's `description`.
    public var errorDescription: String? { description }
}
