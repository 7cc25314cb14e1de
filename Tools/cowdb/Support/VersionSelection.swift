import ArgumentParser
import CowDB

/// `--version N | --as-of TIME | --tag NAME`: which committed version a reading command acts
/// on (the latest when none is given).
struct VersionSelection: ParsableArguments {
    @Option(name: .customLong("version"), help: ArgumentHelp("Act on version N (0: the empty database before the first commit).", valueName: "N"))
    var version: UInt64?

    @Option(name: .customLong("as-of"), parsing: .unconditional,
            help: ArgumentHelp("Act on the last version committed at or before TIME. \(Timestamps.accepted)", valueName: "TIME"))
    var asOf: String?

    @Option(name: .customLong("tag"), help: ArgumentHelp("Act on the version the tag NAME names (see cowdb tags).", valueName: "NAME"))
    var tag: String?

    /// Rejects more than one selection at once.
    func validate() throws {
        if [version != nil, asOf != nil, tag != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give one of --version, --as-of and --tag")
        }
    }

    /// The version selected (nil: the latest). `--as-of` is resolved here against the exact
    /// nanosecond commit times, so a time `cowdb versions` printed selects that very version.
    func resolve(in db: Database) throws -> UInt64? {
        if let tag {
            do {
                return try db.tag(named: tag).version
            } catch CowDBError.tagNotFound {
                let names = try db.tags().map(\.name)
                let known = names.isEmpty ? "the database has no tags" : "tags: " + names.prefix(10).map(ByteEscaping.quoted).joined(separator: ", ")
                throw ToolError.failure("unknown tag \(ByteEscaping.quoted(tag)) (\(known))")
            }
        }
        if let version {
            guard version <= db.latestVersion else {
                throw ToolError.failure("unknown version \(version) (the latest is \(db.latestVersion))")
            }
            return version
        }
        guard let asOf else { return nil }
        return try VersionSelection.version(asOf: asOf, in: db)
    }

    /// The version a positional argument names: a number (checked to exist), `latest`, a tag's
    /// name, or a TIME as `--as-of` takes it (`now`, `2025-03-01`, `@1740830405`, `2h ago`).
    static func version(_ text: String, in db: Database) throws -> UInt64 {
        if text == "latest" { return db.latestVersion }
        if UInt64(text) == nil, let tag = try db.tags().first(where: { $0.name == text }) { return tag.version }
        guard let version = UInt64(text) else { return try version(asOf: text, in: db) }
        guard version <= db.latestVersion else {
            throw ToolError.failure("unknown version \(version) (the latest is \(db.latestVersion))")
        }
        return version
    }

    /// The last version committed at or before TIME `text`.
    static func version(asOf text: String, in db: Database) throws -> UInt64 {
        let time = try Timestamps.parse(text)
        let versions = try db.versions()
        guard let match = versions.last(where: { $0.timestampNanoseconds <= time }) else {
            let first = versions.first.map { "; the first, version \($0.version), was committed at \(Timestamps.iso8601(nanoseconds: $0.timestampNanoseconds))" } ?? "; it has none"
            throw ToolError.failure("no version was committed at or before \(Timestamps.iso8601(nanoseconds: time))\(first)")
        }
        return match.version
    }

    /// Runs `body` in a read transaction on the selected version.
    func read<T>(_ db: Database, _ body: (ReadTransaction) throws -> T) throws -> T {
        guard let version = try resolve(in: db) else { return try db.read(body) }
        do {
            return try db.read(at: version, body)
        } catch CowDBError.versionNotFound(let missing) where missing == version {
            throw ToolError.failure("unknown version \(version) (the latest is \(db.latestVersion))")
        }
    }
}
