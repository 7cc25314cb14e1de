import ArgumentParser
import CowDB

/// `cowdb scan`: prints the entries of a key range.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Print the entries of a key range, one per line: key, a tab, value.",
        discussion: """
            Keys and values are printed escaped (printable bytes as themselves, a backslash as \\\\, \
            tab, newline and every other byte as \\xx), so each entry is one line and the tab between \
            key and value is unambiguous; or as hex with --hex. The range is [--from, --to): --to is \
            exclusive. --prefix keeps keys that start with P, and combines with --from and --to.

            Examples:
              cowdb scan app.cowdb
              cowdb scan app.cowdb -s users --prefix a --limit 10
              cowdb scan app.cowdb --from k100 --to k200 --reverse --version 7
            """)

    @Argument(help: "The database directory.")
    var database: String

    @OptionGroup var keyOptions: KeyOptions

    @Option(help: ArgumentHelp("Only keys starting with P.", valueName: "P"))
    var prefix: String?

    @Option(help: ArgumentHelp("Only keys ≥ K.", valueName: "K"))
    var from: String?

    @Option(help: ArgumentHelp("Only keys < K.", valueName: "K"))
    var to: String?

    @Flag(help: "Descending key order.")
    var reverse = false

    @Option(help: ArgumentHelp("At most N entries.", valueName: "N"))
    var limit: Int?

    @OptionGroup var selection: VersionSelection

    /// Rejects a negative limit.
    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    // MARK: Running

    /// Prints the entries in range at the selected version.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        var lower = try from.map { try keyOptions.bytes($0, what: "--from key") }
        var upper = try to.map { try keyOptions.bytes($0, what: "--to key") }
        if let prefix = try prefix.map({ try keyOptions.bytes($0, what: "prefix") }) {
            lower = ScanCommand.larger(lower, prefix)
            if let end = Database.end(ofPrefix: prefix) { upper = ScanCommand.smaller(upper, end) }
        }
        let output = BufferedOutput.standardOutput()
        try selection.read(db) { txn in
            let keyspace = try DatabaseAccess.keyspace(keyOptions.keyspace, in: txn)
            if let lower, let upper, !lower.lexicographicallyPrecedes(upper) { return }
            var count = 0
            for (key, value) in try keyspace.scan(from: lower, to: upper, reverse: reverse) {
                if let limit, count >= limit { break }
                try output.write(keyOptions.show(key) + "\t" + keyOptions.show(value) + "\n")
                count += 1
            }
        }
        try output.close()
    }

    // MARK: Bounds

    /// The larger lower bound.
    static func larger(_ a: [UInt8]?, _ b: [UInt8]) -> [UInt8] {
        guard let a else { return b }
        return a.lexicographicallyPrecedes(b) ? b : a
    }

    /// The smaller upper bound.
    static func smaller(_ a: [UInt8]?, _ b: [UInt8]) -> [UInt8] {
        guard let a else { return b }
        return a.lexicographicallyPrecedes(b) ? a : b
    }
}
