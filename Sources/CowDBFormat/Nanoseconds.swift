import Foundation

/// Nanoseconds since 1970 for a date a caller passed, clamped to what a u64 timestamp holds:
/// a date before 1970 (or not a number) is 0, one past the year 2554 is `UInt64.max`. A plain
/// `UInt64(seconds * 1e9)` traps on `Date.distantFuture`, which is a reasonable argument
/// ("keep everything since…", "read as of…").
package func nanosecondsSince1970(_ date: Date) -> UInt64 {
    let nanoseconds = date.timeIntervalSince1970 * 1e9
    guard nanoseconds > 0 else { return 0 } // also NaN
    return nanoseconds < 18_446_744_073_709_551_615.0 ? UInt64(nanoseconds) : .max
}
