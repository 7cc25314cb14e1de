import ArgumentParser
import CowDB
import Foundation

/// `cowdb compact`: shrink the file, keeping the versions asked for.
struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Rewrite the database keeping only chosen versions, and switch to it atomically.",
        discussion: """
            Writes a new generation of the data file holding the versions to keep — always the \
            latest; with no option, the latest and the tagged ones — under their own numbers and \
            commit times, then switches to it with one atomic rename. Versions not kept are gone \
            afterwards (reading one is "unknown version"). Needs the write lock: fails with \
            "locked" while another process has the database open for writing. Readers in other \
            processes keep working and move to the new file.

            The versions kept but the newest are packed: kept as one history tree of the \
            versions of the pairs, where a version costs about the bytes of its changes instead of \
            its own tree pages, and reads like any other. --unpacked N keeps the newest N kept \
            versions as trees (reads of them are faster); --no-pack packs nothing more. Versions \
            packed before stay packed.

            Examples:
              cowdb compact app.cowdb
              cowdb compact app.cowdb --keep-last 100 --keep-tags
              cowdb compact app.cowdb --keep-since -7d
              cowdb compact app.cowdb --keep-all
              cowdb compact app.cowdb --thin
              cowdb compact app.cowdb --thin-all-for 1d --thin-hourly-for 1w

            --thin keeps fewer versions the older they are, as Time Machine does: every version \
            of the last hour (--thin-all-for), the last version of each hour (--thin-hourly-period) \
            for the last day (--thin-hourly-for), and the last version of each day \
            (--thin-daily-period) before that. Ages count back from the latest version's commit \
            time, not from now; hours and days are aligned on UTC. Options combine by union: \
            --thin --keep-tags keeps the tagged versions too.
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Option(help: ArgumentHelp("Keep the newest N versions.", valueName: "N"))
    var keepLast: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Keep the versions committed at or after TIME. \(Timestamps.accepted)", valueName: "TIME"))
    var keepSince: String?

    @Flag(help: "Keep every tagged version (the default when no other option is given).")
    var keepTags = false

    @Flag(help: "Keep every version: only repack (and pack).")
    var keepAll = false

    @Option(help: ArgumentHelp("Keep the newest N kept versions as trees; pack the older ones (default 1).", valueName: "N"))
    var unpacked: Int?

    @Flag(help: "Pack nothing more: keep the kept versions as trees (versions packed before stay packed).")
    var noPack = false

    @Flag(help: "Thin the history: every version of the last hour, one an hour for the last day, one a day before that.")
    var thin = false

    @Option(parsing: .unconditional,
            help: ArgumentHelp("Thin, keeping every version of the last SPAN (default 1h). \(Timestamps.acceptedSpans).",
                               valueName: "SPAN"))
    var thinAllFor: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Thin, keeping the last version of each hourly period of the last SPAN (default 1d).",
                                                         valueName: "SPAN"))
    var thinHourlyFor: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Thin, with hourly periods of SPAN (default 1h).", valueName: "SPAN"))
    var thinHourlyPeriod: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Thin, keeping the last version of each period of SPAN, however old (default 1d).",
                                                         valueName: "SPAN"))
    var thinDailyPeriod: String?

    /// Rejects a negative count.
    func validate() throws {
        if let keepLast, keepLast < 1 { throw ValidationError("--keep-last must be at least 1") }
        if let unpacked, unpacked < 1 { throw ValidationError("--unpacked must be at least 1") }
        if noPack, unpacked != nil { throw ValidationError("--no-pack and --unpacked exclude each other") }
    }

    // MARK: Running

    /// Compacts and reports what it kept and saved.
    func run() throws {
        let db = try DatabaseAccess.openForWriting(database, create: false)
        defer { try? db.close() }
        let thinning = try thinningRule()
        let anyOption = keepLast != nil || keepSince != nil || keepTags || keepAll || thinning != nil
        let since = try keepSince.map { Date(timeIntervalSince1970: Double(try Timestamps.parse($0)) / 1e9) }
        let policy = RetentionPolicy(keepLast: keepLast, keepSince: since, keepTags: keepTags || !anyOption, keepAll: keepAll, thinning: thinning)
        let report = try db.compact(keeping: policy, packing: noPack ? .none : .allButNewest(unpacked ?? 1))
        try db.close()
        let output = BufferedOutput.standardOutput()
        let saved = report.bytesBefore > report.bytesAfter ? report.bytesBefore - report.bytesAfter : 0
        try output.write("kept \(report.versionsKept) of \(report.versionsBefore) versions; data file \(report.bytesBefore) → \(report.bytesAfter) bytes (\(saved) saved) in \(String(format: "%.2f", report.seconds)) s; generation \(report.generation)\n")
        try output.close()
    }

    /// The thinning asked for (--thin or any --thin-… option), or nil; a bad span is an error.
    func thinningRule() throws -> RetentionPolicy.Thinning? {
        let spans = [thinAllFor, thinHourlyFor, thinHourlyPeriod, thinDailyPeriod]
        guard thin || spans.contains(where: { $0 != nil }) else { return nil }
        /// The span given to `flag` (or its default), as a duration.
        func span(_ text: String?, _ flag: String, period: Bool) throws -> Duration? {
            guard let text else { return nil }
            // 285 years (what nanoseconds in an Int64 can count) is forever.
            let seconds = min(try Timestamps.parseSpan(text), 9e9)
            if period, seconds < 1e-9 { throw ToolError.failure("\(flag) must be longer than 0") }
            return .nanoseconds(Int64(seconds * 1e9))
        }
        var thinning = RetentionPolicy.Thinning()
        thinning.everyVersionFor = try span(thinAllFor, "--thin-all-for", period: false) ?? thinning.everyVersionFor
        thinning.hourlyFor = try span(thinHourlyFor, "--thin-hourly-for", period: false) ?? thinning.hourlyFor
        thinning.hourlyPeriod = try span(thinHourlyPeriod, "--thin-hourly-period", period: true) ?? thinning.hourlyPeriod
        thinning.dailyPeriod = try span(thinDailyPeriod, "--thin-daily-period", period: true) ?? thinning.dailyPeriod
        return thinning
    }
}
