import Foundation

// Thinning: fewer versions the older they are. Every version of the last hour, then the last
// version of each hour for the last day, then the last version of each day; the spans and
// periods configurable. Selected with one binary search per version kept, never a walk of the
// whole index.

extension RetentionPolicy {
    /// Keeps fewer versions the older they are, as Time Machine keeps backups: with the defaults,
    /// every version of the last hour, one an hour for the last day, and one a day before that.
    ///
    /// A version is kept by thinning when it is
    /// - at most `everyVersionFor` older than the latest version, or
    /// - the last version committed in its hour (its `hourlyPeriod` bucket) and at most
    ///   `hourlyFor` older than the latest version, or
    /// - the last version committed in its day (its `dailyPeriod` bucket), however old.
    ///
    /// ```swift
    /// // Every version of the last 10 minutes, one every 15 minutes for the last 2 days, one a
    /// // day before that; tagged versions too (keepTags defaults to true).
    /// let thinning = RetentionPolicy.Thinning(everyVersionFor: .seconds(600), hourlyFor: .seconds(2 * 86_400),
    ///                                         hourlyPeriod: .seconds(900))
    /// try db.compact(keeping: RetentionPolicy(thinning: thinning))
    /// ```
    ///
    /// **Ages are measured from the latest version's commit time, not from the wall clock.** The
    /// same history then thins the same way whenever it is compacted: a database restored from
    /// a backup, or left alone for a month, still keeps every version of its last hour of work
    /// instead of losing it to the daily rule at its next compaction; results do not depend on
    /// when (or on which machine's clock) compaction runs, so tests and replays are exact.
    ///
    /// **Buckets are aligned on multiples of their period since 1970-01-01T00:00Z** (hours are
    /// clock hours, days are UTC days), not on the latest version's time, and **each keeps its
    /// last version**, the state at the end of that period. A version that ends its bucket ends
    /// it forever (later commits fall into later buckets), so compacting again, later or
    /// automatically, keeps the versions an earlier compaction kept until they age out of their
    /// span: repeated thinning converges instead of eroding the history. When `hourlyPeriod`
    /// divides `dailyPeriod` (the defaults), the last version of a day is also the last of its
    /// hour, so a version moving from the hourly span to the daily one is either kept or was
    /// already dropped, never needed back.
    ///
    /// **Cost**: one binary search over the index (about log2(versions) record reads) per
    /// bucket that holds a version, plus the versions of the last `everyVersionFor`, which are
    /// kept and read anyway: proportional to the versions kept, not to the history. A million
    /// versions over three years: about 1,100 days + 24 hours, so some 23,000 record reads.
    public struct Thinning: Sendable, Equatable {
        /// Keep every version committed at most this long before the latest. Default: an hour.
        public var everyVersionFor: Duration
        /// Keep the last version of each `hourlyPeriod` among those committed at most this long
        /// before the latest. Default: a day.
        public var hourlyFor: Duration
        /// The buckets of the hourly span. Default: an hour.
        public var hourlyPeriod: Duration
        /// The buckets before that: the last version of each is kept, however old. Default: a day.
        public var dailyPeriod: Duration

        /// A thinning; the defaults are Time Machine's: every version of the last hour, one an
        /// hour for the last day, one a day before that. Spans must not be negative, periods must
        /// be at least a nanosecond (`compact` throws `invalidArgument` otherwise).
        public init(everyVersionFor: Duration = .seconds(3_600), hourlyFor: Duration = .seconds(86_400),
                    hourlyPeriod: Duration = .seconds(3_600), dailyPeriod: Duration = .seconds(86_400)) {
            self.everyVersionFor = everyVersionFor
            self.hourlyFor = hourlyFor
            self.hourlyPeriod = hourlyPeriod
            self.dailyPeriod = dailyPeriod
        }

        // MARK: Selection

        /// The spans and periods in nanoseconds (saturating), validated.
        struct Nanoseconds: Equatable {
            var everyVersionFor: UInt64
            var hourlyFor: UInt64
            var hourlyPeriod: UInt64
            var dailyPeriod: UInt64
        }

        /// The spans and periods in nanoseconds; throws `invalidArgument` for a negative one or a
        /// period under a nanosecond.
        func nanoseconds() throws -> Nanoseconds {
            /// `duration` in whole nanoseconds, at most `UInt64.max`.
            func convert(_ duration: Duration, _ name: String, minimum: UInt64) throws -> UInt64 {
                let (seconds, attoseconds) = duration.components
                guard duration >= .zero else { throw CowDBError.invalidArgument("thinning: \(name) is negative (\(duration))") }
                let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
                let (sum, carried) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
                let value = overflow || carried ? UInt64.max : sum
                guard value >= minimum else { throw CowDBError.invalidArgument("thinning: \(name) must be at least a nanosecond (\(duration))") }
                return value
            }
            return Nanoseconds(everyVersionFor: try convert(everyVersionFor, "everyVersionFor", minimum: 0),
                               hourlyFor: try convert(hourlyFor, "hourlyFor", minimum: 0),
                               hourlyPeriod: try convert(hourlyPeriod, "hourlyPeriod", minimum: 1),
                               dailyPeriod: try convert(dailyPeriod, "dailyPeriod", minimum: 1))
        }

        /// The positions thinning keeps among `count` versions whose timestamps (read through
        /// `timestamp` by position) strictly increase; unsorted, possibly repeated.
        func keptPositions(count: Int, timestamp: (Int) throws -> UInt64) throws -> [Int] {
            let spans = try nanoseconds()
            guard count > 0 else { return [] }
            let latest = try timestamp(count - 1)
            /// The first position committed at most `span` before the latest.
            func start(_ span: UInt64) throws -> Int {
                try firstPosition(atLeast: latest >= span ? latest - span : 0, in: 0 ..< count, timestamp)
            }
            var kept = Array(try start(spans.everyVersionFor) ..< count)
            try Self.appendLastOfEachBucket(period: spans.hourlyPeriod, from: try start(spans.hourlyFor), count: count, timestamp, to: &kept)
            try Self.appendLastOfEachBucket(period: spans.dailyPeriod, from: 0, count: count, timestamp, to: &kept)
            return kept
        }

        /// Appends the last position of each `period` bucket (timestamps in
        /// [k × period, (k+1) × period)) that holds a position at or after `start`: from one
        /// bucket's first position, a binary search for the next bucket's first position.
        private static func appendLastOfEachBucket(period: UInt64, from start: Int, count: Int, _ timestamp: (Int) throws -> UInt64,
                                                   to kept: inout [Int]) throws {
            var position = start
            while position < count {
                let time = try timestamp(position)
                let (nextBucket, overflow) = (time - time % period).addingReportingOverflow(period)
                let next = overflow ? count : try firstPosition(atLeast: nextBucket, in: position + 1 ..< count, timestamp)
                kept.append(next - 1)
                position = next
            }
        }
    }
}
