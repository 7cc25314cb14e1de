import ArgumentParser
import CowDB
import Foundation

/// `cowdb tag`: name a version.
struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Name a version (durably; an existing tag of that name moves).",
        discussion: """
            Tags live beside the versioned data: every version sees the same tags, and compaction \
            keeps tagged versions. Every reading command accepts --tag NAME wherever it accepts \
            --version N. Without a version, tags the latest.

            Examples:
              cowdb tag app.cowdb before-migration
              cowdb tag app.cowdb release-1.2 41
              cowdb dump app.cowdb --tag before-migration > before.dump
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Argument(help: "The tag's name (1-255 bytes; no NUL, newline or carriage return).")
    var name: String

    @Argument(help: "The version to name (default: the latest).")
    var version: UInt64?

    // MARK: Running

    /// Sets the tag and says where it points (and where it pointed before, if it moved).
    func run() throws {
        let db = try DatabaseAccess.openForWriting(database, create: false)
        defer { try? db.close() }
        let version = version ?? db.latestVersion
        guard version <= db.latestVersion else { throw ToolError.failure("unknown version \(version) (the latest is \(db.latestVersion))") }
        let previous = try db.tags().first { $0.name == name }
        try db.tag(name, version: version)
        try db.close()
        let output = BufferedOutput.standardOutput()
        if let previous, previous.version != version {
            try output.write("tag \(ByteEscaping.quoted(name)) moved from version \(previous.version) to \(version)\n")
        } else {
            try output.write("tag \(ByteEscaping.quoted(name)) names version \(version)\n")
        }
        try output.close()
    }
}

/// `cowdb tags`: list the tags.
struct TagsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tags",
        abstract: "List the tags: name, version, when it was set.",
        discussion: """
            Examples:
              cowdb tags app.cowdb
              cowdb tags app.cowdb --json
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Flag(help: "Print a JSON array of objects: name, version, created (ISO 8601), createdNanoseconds.")
    var json = false

    // MARK: Running

    /// Prints the tags, sorted by name.
    func run() throws {
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let tags = try db.tags()
        let output = BufferedOutput.standardOutput()
        if json {
            let objects = tags.map { tag in
                "  {\"name\": \(DiffCommand.jsonString(tag.name)), \"version\": \(tag.version), "
                    + "\"created\": \"\(Timestamps.iso8601(nanoseconds: tag.createdAtNanoseconds))\", \"createdNanoseconds\": \(tag.createdAtNanoseconds)}"
            }
            try output.write(objects.isEmpty ? "[]\n" : "[\n" + objects.joined(separator: ",\n") + "\n]\n")
        } else if tags.isEmpty {
            try output.write("no tags\n")
        } else {
            let width = tags.map { ByteEscaping.quoted($0.name).count }.max() ?? 0
            let versionWidth = tags.map { String($0.version).count }.max() ?? 0
            for tag in tags {
                let name = ByteEscaping.quoted(tag.name)
                let version = String(tag.version)
                try output.write(name + String(repeating: " ", count: width - name.count) + "  "
                    + String(repeating: " ", count: versionWidth - version.count) + version + "  "
                    + Timestamps.iso8601(nanoseconds: tag.createdAtNanoseconds) + "\n")
            }
        }
        try output.close()
    }
}

/// `cowdb untag`: remove a tag.
struct UntagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "untag",
        abstract: "Remove a tag (the version it named stays).",
        discussion: """
            Examples:
              cowdb untag app.cowdb before-migration
            """)

    @Argument(help: "The database directory.")
    var database: String

    @Argument(help: "The tag to remove.")
    var name: String

    // MARK: Running

    /// Removes the tag; an unknown name is exit code 3.
    func run() throws {
        let db = try DatabaseAccess.openForWriting(database, create: false)
        defer { try? db.close() }
        do {
            try db.deleteTag(name)
        } catch CowDBError.tagNotFound {
            throw ToolError.notFound("no tag \(ByteEscaping.quoted(name))")
        }
        try db.close()
    }
}
