import ArgumentParser
import CowDB
import Foundation

/// `cowdb stat`: figures of a database, like `mdb_stat -e`.
struct StatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stat",
        abstract: "Show page size, versions, file size, live bytes and each keyspace's tree (like mdb_stat -e).",
        discussion: """
            Live bytes are the bytes of the data file the version still reaches (its pages, the \
            commit record, the file header); space amplification is the file size over that: what \
            older versions hold on to. Each keyspace shows its tree depth, branch, leaf and overflow \
            pages and entries: the default keyspace, or with -a every keyspace, or with -s one.

            Examples:
              cowdb stat app.cowdb
              cowdb stat app.cowdb -a
              cowdb stat app.cowdb -s users --version 3
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Flag(name: [.customShort("a"), .customLong("all")], help: "Show every keyspace.")
    var all = false

    @Option(name: [.customShort("s"), .customLong("keyspace")], help: ArgumentHelp("Show the named keyspace KEYSPACE.", valueName: "KEYSPACE"))
    var keyspace: String?

    @OptionGroup var selection: VersionSelection

    /// Rejects -s with -a.
    func validate() throws {
        if keyspace != nil, all { throw ValidationError("give -s KEYSPACE or -a, not both") }
    }

    // MARK: Running

    /// Prints the figures of the selected version.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let version = try selection.resolve(in: db)
        let stats = try db.stats(version: version)
        let versions = try db.versions()
        var lines = ["Database Info", "  Path: \(database)", "  Page size: \(stats.pageSize)"]
        let latest = versions.last.map { "latest \($0.version), committed \(Timestamps.iso8601(nanoseconds: $0.timestampNanoseconds))" } ?? "none committed"
        lines.append("  Versions: \(stats.versionCount) (\(latest))")
        if let info = versions.last(where: { $0.version == stats.version }) {
            lines.append("  Version shown: \(stats.version), committed \(Timestamps.iso8601(nanoseconds: info.timestampNanoseconds)), \(info.entryCount) entries")
        } else {
            lines.append("  Version shown: \(stats.version)")
        }
        lines.append("  File size: \(stats.fileBytes) bytes (\(stats.fileBytes / UInt64(stats.pageSize)) pages)")
        lines.append("  Reserve: \(stats.reserveBytes) bytes (zeros past the last commit, for durable commits to overwrite)")
        lines.append("  Live bytes: \(stats.liveBytes) (the \(stats.liveBytes / UInt64(stats.pageSize)) pages version \(stats.version) still uses)")
        lines.append("  Space amplification: " + String(format: "%.2f", stats.spaceAmplification) + " (file size without the reserve / live bytes)")
        let named = stats.keyspaces.filter { $0.name != nil }
        lines.append("  Named keyspaces: \(named.count)")
        lines.append("  Catalog pages: \(stats.catalogPages)")
        for figures in try selected(stats) {
            lines.append(figures.name.map { "Status of keyspace \(ByteEscaping.quoted($0))" } ?? "Status of the default keyspace")
            lines.append("  Tree depth: \(figures.depth)")
            lines.append("  Branch pages: \(figures.branchPages)")
            lines.append("  Leaf pages: \(figures.leafPages)")
            lines.append("  Overflow pages: \(figures.overflowPages)")
            lines.append("  Entries: \(figures.entries)")
        }
        let output = BufferedOutput.standardOutput()
        try output.write(lines.joined(separator: "\n") + "\n")
        try output.close()
    }

    /// The keyspaces to show: all with -a, the one named with -s, else the default one.
    private func selected(_ stats: DatabaseStats) throws -> [KeyspaceStats] {
        if all { return stats.keyspaces }
        guard let keyspace else { return stats.keyspaces.filter { $0.name == nil } }
        guard let figures = stats.keyspaces.first(where: { $0.name == keyspace }) else {
            let names = stats.keyspaces.compactMap(\.name)
            let known = names.isEmpty ? "it has no named keyspaces" : "named keyspaces: " + names.prefix(10).map(ByteEscaping.quoted).joined(separator: ", ")
            throw ToolError.failure("unknown keyspace \(ByteEscaping.quoted(keyspace)) at version \(stats.version) (\(known))")
        }
        return [figures]
    }
}
