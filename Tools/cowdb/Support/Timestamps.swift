import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Commit times as the tool prints and parses them. Versions carry nanoseconds since 1970;
/// the tool prints them as ISO 8601 in UTC with all nine fractional digits
/// (`2025-03-01T12:00:05.123456789Z`), so a printed time given back to `--as-of` selects
/// exactly the version it was printed for.
enum Timestamps {
    /// Nanoseconds per second.
    static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    // MARK: Formatting

    /// ISO 8601 in UTC with nanoseconds: `2025-03-01T12:00:05.123456789Z`.
    static func iso8601(nanoseconds: UInt64) -> String {
        var seconds = time_t(nanoseconds / nanosecondsPerSecond)
        let fraction = nanoseconds % nanosecondsPerSecond
        var parts = tm()
        gmtime_r(&seconds, &parts)
        /// `value` in decimal, zero-padded to `width` digits.
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let fractionText = String(fraction)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
            + "T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 9 - fractionText.count) + fractionText + "Z"
    }

    // MARK: Parsing

    /// Help text describing the accepted forms.
    static let accepted = """
        TIME is ISO 8601 (2025-03-01T12:00:05Z, 2025-03-01T13:00:05.25+01:00, 2025-03-01 12:00; \
        no zone: local time; a date alone: its midnight UTC), @SECONDS since 1970 (@1740830405.5), \
        now, or a time ago (-90s, -15m, -2h, -3d, -1w, or "2h ago").
        """

    /// Parses TIME (see `accepted`) into nanoseconds since 1970.
    static func parse(_ text: String, now: Date = Date()) throws -> UInt64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "now" { return nanoseconds(now.timeIntervalSince1970) }
        if let ago = relativeSeconds(trimmed) { return nanoseconds(now.timeIntervalSince1970 - ago) }
        if trimmed.hasPrefix("@") {
            guard let seconds = Double(trimmed.dropFirst()), seconds >= 0, seconds.isFinite else { throw invalid(text) }
            return nanoseconds(seconds)
        }
        if let value = iso8601(trimmed) { return value }
        throw invalid(text)
    }

    /// The error for an unreadable TIME.
    private static func invalid(_ text: String) -> ToolError {
        .failure("cannot read the time \(ByteEscaping.quoted(text)): \(accepted)")
    }

    /// Seconds since 1970 as nanoseconds (0 before 1970).
    private static func nanoseconds(_ seconds: Double) -> UInt64 {
        seconds <= 0 ? 0 : UInt64(seconds * 1e9)
    }

    /// `-15m` or `15m ago`: the seconds back from now, or nil if `text` is not that form.
    private static func relativeSeconds(_ text: String) -> Double? {
        var body = Substring(text)
        if body.hasPrefix("-") {
            body = body.dropFirst()
        } else if body.hasSuffix(" ago") {
            body = body.dropLast(4)
        } else {
            return nil
        }
        return spanSeconds(body.trimmingCharacters(in: .whitespaces))
    }

    // MARK: Spans of time

    /// Help text describing the accepted forms of a span.
    static let acceptedSpans = "SPAN is a number and a unit: 90s, 15m, 1.5h, 1d, 2w"

    /// Parses a span (`90s`, `15m`, `1.5h`, `1d`, `2w`) into seconds.
    static func parseSpan(_ text: String) throws -> Double {
        guard let seconds = spanSeconds(text.trimmingCharacters(in: .whitespaces)) else {
            throw ToolError.failure("cannot read the span \(ByteEscaping.quoted(text)): \(acceptedSpans)")
        }
        return seconds
    }

    /// `15m`: the seconds of a number (not negative) and a unit (s, m, h, d, w), or nil if
    /// `text` is not that form.
    private static func spanSeconds(_ text: String) -> Double? {
        guard let unit = text.last, let count = Double(text.dropLast()), count >= 0, count.isFinite else { return nil }
        let scale: Double
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3600
        case "d": scale = 86400
        case "w": scale = 7 * 86400
        default: return nil
        }
        return count * scale
    }

    /// `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|±HH:MM|±HHMM]`, or nil if `text` is not that form.
    private static func iso8601(_ text: String) -> UInt64? {
        var scanner = Array(text.utf8)[...]
        /// Consumes exactly `digits` decimal digits.
        func number(_ digits: Int) -> Int32? {
            guard scanner.count >= digits, scanner.prefix(digits).allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            let value = Int32(String(decoding: scanner.prefix(digits), as: UTF8.self))
            scanner = scanner.dropFirst(digits)
            return value
        }
        /// Consumes `character` if it comes next.
        func take(_ character: Character) -> Bool {
            guard scanner.first == character.asciiValue else { return false }
            scanner = scanner.dropFirst()
            return true
        }
        guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        var fraction: UInt64 = 0
        var hasTime = false
        if take("T") || take("t") || take(" ") {
            guard let hour = number(2), take(":"), let minute = number(2) else { return nil }
            hasTime = true
            parts.tm_hour = hour
            parts.tm_min = minute
            if take(":") {
                guard let second = number(2) else { return nil }
                parts.tm_sec = second
                if take(".") || take(",") {
                    let digits = scanner.prefix { $0 >= 48 && $0 <= 57 }
                    guard !digits.isEmpty else { return nil }
                    scanner = scanner.dropFirst(digits.count)
                    let nine = (String(decoding: digits.prefix(9), as: UTF8.self) + String(repeating: "0", count: 9)).prefix(9)
                    fraction = UInt64(nine) ?? 0
                }
            }
        }
        guard (1 ... 12).contains(month), (1 ... 31).contains(day), parts.tm_hour < 24, parts.tm_min < 60, parts.tm_sec < 61 else { return nil }
        var offsetSeconds: Int? = hasTime ? nil : 0
        if take("Z") || take("z") {
            offsetSeconds = 0
        } else if let sign = scanner.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            scanner = scanner.dropFirst()
            guard let hours = number(2) else { return nil }
            _ = take(":")
            guard let minutes = number(2) else { return nil }
            offsetSeconds = (sign == UInt8(ascii: "+") ? 1 : -1) * Int(hours * 3600 + minutes * 60)
        }
        guard scanner.isEmpty else { return nil }
        return nanoseconds(&parts, offsetSeconds: offsetSeconds, fraction: fraction)
    }

    /// The nanoseconds since 1970 of a parsed date and time: in UTC less `offsetSeconds`, or in
    /// local time when no offset was given; 0 for a time before 1970.
    private static func nanoseconds(_ parts: inout tm, offsetSeconds: Int?, fraction: UInt64) -> UInt64 {
        let seconds: Int
        if let offsetSeconds {
            seconds = Int(timegm(&parts)) - offsetSeconds
        } else {
            parts.tm_isdst = -1
            seconds = Int(mktime(&parts))
        }
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * nanosecondsPerSecond + fraction
    }
}
