import CowDBFormat
import Foundation

// Which versions compaction keeps: the union of a few rules (the newest N, those since a time,
// the tagged ones, explicit ones, a Time Machine-like thinning), always with the latest.
// Selection reads the index by position, only the positions it needs, so that it stays cheap
// on a history of millions of versions.

/// Which versions compaction keeps. The latest version is always kept; a version is kept when
/// any rule keeps it (the rules combine by union).
///
/// ```swift
/// // The newest 100 versions and the tagged ones.
/// try db.compact(keeping: RetentionPolicy(keepLast: 100))
/// // Every version of the last hour, one an hour for the last day, one a day before that
/// // (and the tagged ones).
/// try db.compact(keeping: RetentionPolicy(thinning: .init()))
/// // Every version of the last day, one an hour for the last week, one a day before that.
/// try db.compact(keeping: RetentionPolicy(thinning: .init(everyVersionFor: .seconds(86_400), hourlyFor: .seconds(7 * 86_400))))
/// ```
public struct RetentionPolicy: Sendable, Equatable {
    /// Keep the newest N versions.
    public var keepLast: Int?
    /// Keep every version committed at or after this time.
    public var keepSince: Date?
    /// Keep every tagged version.
    public var keepTags: Bool
    /// Keep every version (compaction then only repacks).
    public var keepAll: Bool
    /// Keep these versions too.
    public var keepVersions: Set<UInt64>
    /// Keep fewer versions the older they are, as Time Machine does (see `Thinning`).
    public var thinning: Thinning?

    /// A policy; the default keeps the latest version and the tagged ones.
    public init(keepLast: Int? = nil, keepSince: Date? = nil, keepTags: Bool = true, keepAll: Bool = false, keepVersions: Set<UInt64> = [],
                thinning: Thinning? = nil) {
        self.keepLast = keepLast
        self.keepSince = keepSince
        self.keepTags = keepTags
        self.keepAll = keepAll
        self.keepVersions = keepVersions
        self.thinning = thinning
    }

    /// Only the latest version.
    public static let latestOnly = RetentionPolicy(keepTags: false)

    /// Throws `invalidArgument` for a negative `keepLast` or a thinning with a negative span or
    /// a period under a nanosecond.
    public func validate() throws {
        if let keepLast, keepLast < 0 { throw CowDBError.invalidArgument("keepLast is negative (\(keepLast))") }
        _ = try thinning?.nanoseconds()
    }

    // MARK: Selection

    /// The versions of `versions` (oldest first) this policy keeps.
    func select(from versions: [VersionInfo], tags: [Tag]) throws -> [UInt64] {
        try select(count: versions.count, version: { versions[$0].version }, timestamp: { versions[$0].timestampNanoseconds }, tags: tags)
    }

    /// The versions this policy keeps among `count` versions in increasing order (of number and
    /// of time), read through accessors by position: only the positions it needs are read (the
    /// newest N, a binary search for the time, one for each tag, and for thinning one per
    /// version it keeps: see `Thinning`), never the whole list unless `keepAll`.
    func select(count: Int, version: (Int) throws -> UInt64, timestamp: (Int) throws -> UInt64, tags: [Tag]) throws -> [UInt64] {
        try validate()
        guard count > 0 else { return [] }
        if keepAll { return try (0 ..< count).map(version) }
        var kept: Set<UInt64> = [try version(count - 1)]
        if let keepLast { for i in max(0, count - keepLast) ..< count { kept.insert(try version(i)) } }
        if let keepSince {
            let since = nanosecondsSince1970(keepSince)
            for i in try firstPosition(atLeast: since, in: 0 ..< count, timestamp) ..< count { kept.insert(try version(i)) }
        }
        for wanted in (keepTags ? tags.map(\.version) : []) + keepVersions {
            let i = try firstPosition(atLeast: wanted, in: 0 ..< count, version)
            if i < count, try version(i) == wanted { kept.insert(wanted) }
        }
        if let thinning {
            for i in try thinning.keptPositions(count: count, timestamp: timestamp) { kept.insert(try version(i)) }
        }
        return kept.sorted()
    }
}

/// The first position in `range` whose value is at least `target` (`range.upperBound` if none),
/// by binary search: values increase with the position. Reads about log2(range.count) values.
func firstPosition(atLeast target: UInt64, in range: Range<Int>, _ value: (Int) throws -> UInt64) throws -> Int {
    var low = range.lowerBound, high = range.upperBound
    while low < high {
        let mid = low + (high - low) / 2
        if try value(mid) < target { low = mid + 1 } else { high = mid }
    }
    return low
}
