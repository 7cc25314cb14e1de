import ArgumentParser
import CowDB
import CowDBReplication
import Foundation

/// `cowdb restore`: builds a database from a replica, up to a version, a time or a tag.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Build a database from a replica in S3-compatible storage.",
        discussion: """
            Downloads the replica's segments and writes DEST, a new database holding every version \
            up to the target: the latest (default), --version N, the last version at or before \
            --as-of TIME, or the version a --tag names. Each segment is verified before it is \
            written (page checksums, commit chain, region checksums); the result is opened and \
            checked before it is put in place. A damaged, truncated or missing object fails the \
            restore with its name, and leaves no database behind.

            A version is restored from the oldest generation that holds it, so versions a later \
            compaction dropped are restored too while the replica keeps that generation.

            Examples:
              cowdb restore s3://backups/app restored.cowdb
              cowdb restore s3://backups/app restored.cowdb --as-of 2026-12-01T09:30:00Z
            """)

    @Argument(help: ArgumentHelp("The replica: s3://BUCKET/PREFIX.", valueName: "s3://BUCKET/PREFIX"))
    var replica: String

    @Argument(help: ArgumentHelp("The database directory to create (must not exist)."))
    var destination: String

    @Option(help: ArgumentHelp("Restore through this version.", valueName: "N"))
    var version: UInt64?

    @Option(name: .customLong("as-of"), help: ArgumentHelp("Restore through the last version at or before TIME (ISO 8601, or a span ago like 10m).", valueName: "TIME"))
    var asOf: String?

    @Option(help: ArgumentHelp("Restore through the version this tag names.", valueName: "NAME"))
    var tag: String?

    @OptionGroup var s3: S3Options

    func validate() throws {
        guard [version != nil, asOf != nil, tag != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("give at most one of --version, --as-of and --tag")
        }
    }

    func run() throws {
        let location = try S3Options.location(replica)
        let client = try s3.client()
        var target = RestoreTarget.latest
        if let version { target = .version(version) }
        if let tag { target = .tag(tag) }
        if let asOf { target = .asOfNanoseconds(try Timestamps.parse(asOf)) }
        let (destination, chosen) = (destination, target)
        try AsyncCommand.run {
            let report = try await ReplicaRestore.restore(from: location, client: client, to: destination, target: chosen)
            let line = "restored version \(report.version) (generation \(report.generation)) into \(destination): \(report.segments) segments, \(report.bytes) bytes"
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
