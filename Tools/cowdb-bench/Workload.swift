// The workloads, named as in the JSON, and the phases (child processes) that run them.

/// One row of the results.
enum Workload: String, CaseIterable, Sendable, Codable {
    case bulkLoad = "bulk_load"
    case individualWrites = "individual_writes"
    case concurrentWrites = "concurrent_writes"
    case batchWrites = "batch_writes"
    case randomReads = "random_reads"
    case randomReadsWarm = "random_reads_warm"
    case randomRangeReads = "random_range_reads"
    case randomReads2Threads = "random_reads_2_threads"
    case removals
    case sizeAfterLoad = "size_after_load"
    case sizeAfterRemovals = "size_after_removals"
    case oldVersionReads = "old_version_reads"
    case latestVersionReads = "latest_version_reads"
    case openWithHistory = "open_with_history"
    case bytesPerCommit = "bytes_per_commit"
    case diff
    case compaction
    case historyPackedBytes = "history_packed_bytes"
    case packedVersionReads = "packed_version_reads"
    case packedVersionRangeReads = "packed_version_range_reads"
    case packRate = "pack_rate"
    case packedDiff100 = "packed_diff_100"

    /// How a row's figure reads, and which way is better.
    enum Measure {
        /// Operations per second (higher is better).
        case throughput
        /// Bytes on disk (lower is better).
        case size
        /// Seconds (lower is better).
        case latency
    }

    /// What the row's main figure is.
    var measure: Measure {
        switch self {
        case .sizeAfterLoad, .sizeAfterRemovals, .bytesPerCommit, .historyPackedBytes: .size
        case .openWithHistory, .diff, .packedDiff100: .latency
        default: .throughput
        }
    }

    /// Whether only CowDB can run it (a feature the others lack).
    var cowdbOnly: Bool {
        switch self {
        case .oldVersionReads, .latestVersionReads, .openWithHistory, .bytesPerCommit, .diff, .compaction: true
        case .historyPackedBytes, .packedVersionReads, .packedVersionRangeReads, .packRate, .packedDiff100: true
        default: false
        }
    }

    /// The child process that produces the row.
    var phase: Phase {
        switch self {
        case .bulkLoad, .sizeAfterLoad: .load
        case .individualWrites, .concurrentWrites, .batchWrites, .bytesPerCommit: .write
        case .randomReads, .randomReadsWarm, .randomRangeReads, .randomReads2Threads: .read
        case .oldVersionReads, .latestVersionReads: .oldVersion
        case .removals, .sizeAfterRemovals: .remove
        case .openWithHistory: .history
        case .diff, .compaction: .compaction
        case .historyPackedBytes, .packedVersionReads, .packedVersionRangeReads, .packRate, .packedDiff100: .compaction
        }
    }

    /// What one operation is, for the table.
    var unit: String {
        switch self {
        case .bulkLoad, .batchWrites: "pairs/s"
        case .individualWrites, .concurrentWrites: "commits/s"
        case .randomReads, .randomReadsWarm, .randomReads2Threads, .oldVersionReads, .latestVersionReads, .packedVersionReads: "gets/s"
        case .randomRangeReads, .packedVersionRangeReads: "ranges/s"
        case .removals: "removals/s"
        case .sizeAfterLoad, .sizeAfterRemovals, .historyPackedBytes: "MiB"
        case .bytesPerCommit: "bytes"
        case .openWithHistory, .diff, .packedDiff100: "ms"
        case .compaction, .packRate: "MB/s"
        }
    }
}

/// A group of workloads one child process runs in order on one engine's directory: `load`,
/// then `write`, `read` and `remove`, each on what the ones before left; `oldVersion` works on
/// a copy of what `write` left, `history` and `compaction` on databases of their own
/// (`compaction`'s history database also gives the packed-history rows, packed before it is
/// compacted to its latest version).
enum Phase: String, CaseIterable, Sendable {
    case load, write, read
    case oldVersion = "old_version"
    case remove, history, compaction

    /// Whether the phase works in a directory of its own rather than the engine's.
    var ownDirectory: Bool { self == .oldVersion || self == .history || self == .compaction }
}

/// The sizes of a run, passed from the parent to every child.
struct Plan: Sendable {
    /// N: pairs in the bulk load, and random gets per read workload.
    var scale: Int
    /// The data set's seed.
    var seed: UInt64
    /// Single-pair durable commits (10,000).
    var individualWrites: Int
    /// Single-pair durable commits per thread of `concurrent_writes` (max(250, 1,000 × N / 1,000,000)).
    var concurrentWritesPerThread: Int
    /// Commits of `batchSize` pairs (100).
    var batchWrites: Int
    /// The rounds the durable commits are timed in (each row's spread is over them).
    var writeRounds: Int
    /// Pairs per batch commit (1,000).
    var batchSize: Int
    /// Commits in the history database of `open_with_history`.
    var historyCommits: Int
    /// Runs of each warm read workload (the fastest is reported).
    var readRepeats: Int
    /// Test only: `old_version_reads` and `packed_version_reads` read at the latest version
    /// instead, which the run must catch (their checksums differ from the old version's).
    var misreadOldVersion = false
    /// Test only: `concurrent_writes` leaves out one commit of its first thread, which the
    /// read-back must catch.
    var skipConcurrentWrite = false

    /// The data set.
    var data: Dataset { Dataset(seed: seed, count: scale) }
}
