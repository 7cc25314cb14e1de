import ArgumentParser
import CowDB

/// `cowdb diff`: the keys added, removed or changed between two versions.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Print the keys added, removed or changed between versions A and B.",
        discussion: """
            One line per key, in key order: '+ KEY<TAB>NEW' added, '- KEY<TAB>OLD' removed, \
            '~ KEY<TAB>OLD<TAB>NEW' changed; keys and values escaped as by scan (or hex with --hex). \
            With --all-keyspaces the default keyspace comes first, then every named keyspace in byte \
            order of its name, each under a line '# keyspace "NAME"' (or '# default keyspace'); a \
            keyspace created or dropped in between shows all its keys as added or removed.

            --json prints one object per line instead: {"op": "added"|"removed"|"changed", \
            "keyspace": NAME (null: the default keyspace), "key": HEX, "old": HEX|null, "new": HEX|null}. \
            --stat prints only the counts (with --json, one object {"added": N, "removed": N, "changed": N}).

            A and B are version numbers, 'latest', or a TIME as --as-of takes it (the last version \
            committed at or before it; put -- before A and B to write a time ago as -15m). A may be later \
            than B: the diff then runs backwards. The cost follows what changed, not the size of the \
            database: subtrees both versions share are skipped unread.

            Examples:
              cowdb diff app.cowdb 3 7
              cowdb diff app.cowdb 7 latest -s users --json
              cowdb diff app.cowdb 1 latest --all-keyspaces --stat
              cowdb diff app.cowdb -- -1h now
            """)

    @Argument(help: ArgumentHelp("The database directory."))
    var database: String

    @Argument(help: ArgumentHelp("The version diffed from.", valueName: "A"))
    var from: String

    @Argument(help: ArgumentHelp("The version diffed to.", valueName: "B"))
    var to: String

    @Option(name: [.customShort("s"), .customLong("keyspace")], help: ArgumentHelp("The named keyspace (default: the default keyspace).", valueName: "KEYSPACE"))
    var keyspace: String?

    @Flag(name: [.customShort("a"), .customLong("all-keyspaces")], help: "Every keyspace: the default one, then each named one.")
    var allKeyspaces = false

    @Flag(help: "One JSON object per line.")
    var json = false

    @Flag(help: "Only the counts of keys added, removed and changed.")
    var stat = false

    @Flag(help: "Keys and values as hex (text output; JSON is always hex).")
    var hex = false

    /// Rejects -s together with --all-keyspaces.
    func validate() throws {
        if keyspace != nil, allKeyspaces { throw ValidationError("give -s KEYSPACE or --all-keyspaces, not both") }
    }

    // MARK: Running

    /// Prints the differences (or their counts).
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let old = try VersionSelection.version(from, in: db)
        let new = try VersionSelection.version(to, in: db)
        let output = BufferedOutput.standardOutput()
        var counts = [DiffEntry.Change.added: 0, .removed: 0, .changed: 0]
        do {
            let print = { (changes: DiffSequence) throws in
                var section: String?? = .none
                // Views into the map: large values are printed without being copied first.
                try changes.forEachWithoutCopying { change in
                    counts[change.change, default: 0] += 1
                    if stat { return }
                    if json { return try DiffOutput(hex: hex).write(json: change.parts, version: nil, to: output) }
                    if allKeyspaces, section != .some(change.keyspace) {
                        section = .some(change.keyspace)
                        try output.write(change.keyspace.map { "# keyspace \(ByteEscaping.quoted($0))\n" } ?? "# default keyspace\n")
                    }
                    try DiffOutput(hex: hex).write(text: change.parts, to: output)
                }
            }
            if allKeyspaces {
                try db.diffAllKeyspaces(from: old, to: new, print)
            } else {
                try db.diff(from: old, to: new, keyspace: keyspace, print)
            }
        } catch CowDBError.versionNotFound(let missing) {
            throw ToolError.failure("unknown version \(missing) (the latest is \(db.latestVersion))")
        } catch let CowDBError.keyspaceNotFound(name) {
            throw ToolError.failure("unknown keyspace \(ByteEscaping.quoted(name)) at versions \(old) and \(new)")
        }
        if stat {
            let (added, removed, changed) = (counts[.added]!, counts[.removed]!, counts[.changed]!)
            try output.write(json ? "{\"added\": \(added), \"removed\": \(removed), \"changed\": \(changed)}\n"
                : "added \(added)\nremoved \(removed)\nchanged \(changed)\n")
        }
        try output.close()
    }

    /// A JSON string literal for `text` (quotes, backslashes and control characters escaped).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
