import CowDBFormat
import CowDBStorage
import CowDBTree
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
    /// leaves to the file early (so a transaction of any size runs in bounded memory). The
    /// default, 512 MiB, is LMDB's own limit (131,071 dirty pages of 4 KiB before it spills):
    /// a transaction that changes less than that writes each changed page exactly once.
    public var dirtyPageBudget = 512 << 20
    /// When reads verify page checksums (default `.firstRead`: each page once per process).
    public var checksumVerification: ChecksumVerification = .firstRead
    /// Shorthand: `true` is `checksumVerification = .everyRead`, `false` the default `.firstRead`.
    public var verifyOnRead: Bool {
        get { checksumVerification == .everyRead }
        set { checksumVerification = newValue ? .everyRead : .firstRead }
    }
    /// How long opening for writing waits for another writer to close, in seconds (0: fail at once with `locked`).
    public var lockTimeout: Double = 0
    /// Address space reserved for the map of the data file, so it can grow without remapping.
    public var mapReservation = 64 << 30
    /// Permission bits for new files (the umask applies too; the world-write bit is always
    /// cleared, so no database file is ever world-writable).
    public var fileMode: mode_t = 0o644
    /// Compact in the background when the file outgrows the live data (nil, the default: only
    /// when `compact(keeping:)` is called). See `AutomaticCompaction` for the costs.
    public var automaticCompaction: AutomaticCompaction?

    /// When reads verify checksums. Every page and overflow run a read uses is verified before
    /// any of its bytes is used, so a damaged byte (bit rot, a stray write) is reported as
    /// `corrupt`, never returned as data. There is no setting that skips verification: with
    /// `.firstRead` a warm read costs one bit test per page, too little to trade safety for.
    public enum ChecksumVerification: Sendable {
        /// The first time this process reads a page (or an overflow run) its checksum is
        /// verified and a bit set in a map of verified pages beside the file's map; later reads
        /// test the bit. Pages this process wrote are set when written. A cold read pays one
        /// CRC-32C of the page (about 0.2 µs for 4 KiB with SSE4.2), a warm read a bit test
        /// (measured: ~34 more instructions per get of a 3-level tree, +3%). Should the
        /// bitmap's address space not be available (strict overcommit), every read verifies.
        /// Damage that reaches a page after this process verified it (the disk rots under the
        /// page cache) shows up in the next process that reads it, or in `check()`.
        case firstRead
        /// Every read of a page verifies its checksum again (a CRC-32C of the page each time).
        case everyRead
    }

    /// Defaults: 4 KiB pages, `.full` durability, read-write, 512 MiB dirty budget, `.firstRead` verification.
    public init() {}
}

/// A retention policy applied on its own: every `checkEveryCommits` commits the writer measures
/// the latest version's live bytes (a walk of its trees, in a background thread) and, when the
/// data file is more than `fileToLiveRatio` times that, compacts with `policy` in that thread.
///
/// Costs: the measurement reads every page of the latest version once per check (for a
/// 1,000,000-key database, ~70,000 pages); a compaction reads the kept versions and writes the
/// new file once, while readers and the writer go on (the writer waits only for the last
/// catch-up step). Versions the policy does not keep disappear without further notice.
public struct AutomaticCompaction: Sendable, Equatable {
    /// Which versions survive.
    public var policy: RetentionPolicy
    /// Compact when the file exceeds this many times the live data.
    public var fileToLiveRatio: Double
    /// Commits between two measurements.
    public var checkEveryCommits: Int

    /// Compact with `policy` once the file exceeds `fileToLiveRatio` × the live data, checking
    /// every `checkEveryCommits` commits.
    public init(policy: RetentionPolicy, fileToLiveRatio: Double = 4, checkEveryCommits: Int = 1_000) {
        self.policy = policy
        self.fileToLiveRatio = fileToLiveRatio
        self.checkEveryCommits = checkEveryCommits
    }
}
