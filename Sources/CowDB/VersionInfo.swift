import CowDBFormat
import CowDBStorage
import CowDBTree
import Foundation

/// One committed version, as `Database.versions()` lists it.
public struct VersionInfo: Sendable, Equatable {
    /// The version number (1, 2, 3, …).
    public let version: UInt64
    /// Commit time in nanoseconds since 1970 (strictly increasing from version to version).
    public let timestampNanoseconds: UInt64
    /// Entries in all keyspaces at this version.
    public let entryCount: UInt64
    /// Length of the data file just after this commit, in bytes.
    public let fileLength: UInt64
    /// Bytes this commit appended (its pages and its commit record).
    public let appendedBytes: UInt64

    /// Commit time.
    public var timestamp: Date { Date(timeIntervalSince1970: Double(timestampNanoseconds) / 1e9) }
}
