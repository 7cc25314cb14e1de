import CowDBFormat
import CowDBStorage
import CowDBTree

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
    public var fileMode: UInt32 = 0o644
    /// Compact in the background (nil: only when `compact(keeping:packing:)` is called). The
    /// default, `AutomaticCompaction.packHistory`, keeps every version and packs the older
    /// ones whenever the data file has grown by a quarter (at least 16 MiB) since it was last
    /// compacted, so that history costs about what its changes cost. See `AutomaticCompaction`.
    public var automaticCompaction: AutomaticCompaction? = .packHistory

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

/// A retention policy (and packing) applied on its own, in a background thread after commits,
/// when either trigger fires:
///
/// - **growth** (`growthFraction`, `minimumGrowth`): the data file has grown by that fraction
///   of its length after the last compaction (or at open), and by at least that many bytes.
///   Checked every commit: a load of the file's length, no I/O.
/// - **live ratio** (`fileToLiveRatio`): every `checkEveryCommits` commits the writer measures
///   the latest version's live bytes (a walk of its trees: for a 1,000,000-key database,
///   ~70,000 pages) and compacts when the data file is more than that ratio times them.
///
/// A compaction reads the kept versions and writes the new file once, while readers and the
/// writer go on (the writer waits only for the last catch-up step). Versions the policy does
/// not keep disappear without further notice. Packing rewrites the whole history tree each
/// time (sequential copying of the packed entries, plus the new versions' changes).
public struct AutomaticCompaction: Sendable, Equatable {
    /// Which versions survive.
    public var policy: RetentionPolicy
    /// Which of them are packed.
    public var packing: Packing
    /// Compact when the file exceeds this many times the live data (nil: never measure).
    public var fileToLiveRatio: Double?
    /// Commits between two measurements of the live data.
    public var checkEveryCommits: Int
    /// Compact when the file has grown by this fraction of its length after the last
    /// compaction (nil: not on growth) …
    public var growthFraction: Double?
    /// … and by at least this many bytes.
    public var minimumGrowth: UInt64
    /// Back-pressure (nil, the default: none): while an automatic compaction runs, a `write`
    /// that leaves the file grown past this many times the growth that triggers one waits for
    /// it to end, so that a writer faster than packing cannot grow the file without bound
    /// meanwhile. Off by default: it throttles bulk writers to packing's speed (measured: batch
    /// commits of 1,000 pairs at N = 100,000 fell from 65,458 to 21,474 pairs/s with 4).
    public var stallFactor: Int?

    /// Compact with `policy` (packing as `packing` says) once the file exceeds
    /// `fileToLiveRatio` × the live data, checking every `checkEveryCommits` commits, or once
    /// it has grown by `growthFraction` (and `minimumGrowth` bytes) since the last compaction.
    public init(policy: RetentionPolicy, packing: Packing = .none, fileToLiveRatio: Double? = 4, checkEveryCommits: Int = 1_000,
                growthFraction: Double? = nil, minimumGrowth: UInt64 = 16 << 20) {
        self.policy = policy
        self.packing = packing
        self.fileToLiveRatio = fileToLiveRatio
        self.checkEveryCommits = checkEveryCommits
        self.growthFraction = growthFraction
        self.minimumGrowth = minimumGrowth
        stallFactor = nil
    }

    /// The default: keep every version, pack all but the latest whenever the file has grown
    /// by a quarter, and by at least 16 MiB, since the last compaction.
    public static let packHistory = AutomaticCompaction(policy: RetentionPolicy(keepAll: true), packing: .all, fileToLiveRatio: nil,
                                                        growthFraction: 0.25)
}
