#if canImport(Glibc)
import Glibc
#endif

/// How a database is opened (and, for a new one, created).
public struct DatabaseOptions: Sendable {
    /// When a commit is durable.
    public enum Durability: Sendable {
        /// Each commit ends with one `fdatasync`: it survives a crash or power loss once `write` returns.
        case full
        /// No sync: a crash of the process loses nothing, a power loss may lose the latest
        /// commits (never corrupts earlier ones). For bulk loads and tests.
        case none
    }

    /// Page size for a new database: a power of two from 4096 to 65536 (fixed at creation;
    /// an existing database keeps its own).
    public var pageSize = 4096
    /// Durability of each commit.
    public var durability: Durability = .full
    /// Open without the write lock; writes throw `readOnly`. Sees commits made by a writer
    /// in another process as they land.
    public var readOnly = false
    /// Bytes of changed pages a write transaction keeps in memory before it writes finished
    /// leaves to the file early (so a transaction of any size runs in bounded memory).
    public var dirtyPageBudget = 64 << 20
    /// Verify the checksum of every page a read touches (off: checksums are verified at open
    /// for the tail, by `check()`; bounds checks are always on).
    public var verifyOnRead = false
    /// How long opening for writing waits for another writer to close, in seconds (0: fail at once with `locked`).
    public var lockTimeout: Double = 0
    /// Address space reserved for the map of the data file, so it can grow without remapping.
    public var mapReservation = 64 << 30
    /// Permission bits for new files (the umask applies too; the world-write bit is always
    /// cleared, so no database file is ever world-writable).
    public var fileMode: mode_t = 0o644

    /// Defaults: 4 KiB pages, `.full` durability, read-write, 64 MiB dirty budget.
    public init() {}
}
