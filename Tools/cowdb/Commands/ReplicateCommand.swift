import ArgumentParser
import CowDB
import CowDBReplication
import Foundation

/// `cowdb replicate`: ships every commit to S3-compatible storage, until interrupted.
struct ReplicateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replicate",
        abstract: "Ship every commit to S3-compatible storage, until interrupted.",
        discussion: """
            Opens the database read-only (beside its writer in another process) and uploads each \
            commit's new bytes under s3://BUCKET/PREFIX: segments of whole commits, each verified \
            before upload, then a small manifest.json. A commit is shipped as soon as the writer \
            publishes it (or within --interval). A compaction starts a new generation with a full \
            copy; older generations stay in the bucket for restores. The tags are uploaded when \
            they change.

            It stops after the upload in progress on SIGINT or SIGTERM. Stopped any other way \
            (even SIGKILL), it resumes where the manifest says, adopting what it had uploaded \
            past it: nothing is uploaded twice or skipped.

            Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (default \
            us-east-1); the server: --endpoint or AWS_ENDPOINT_URL.

            Examples:
              cowdb replicate app.cowdb s3://backups/app
              cowdb replicate app.cowdb s3://backups/app --once --endpoint http://127.0.0.1:9000
            """)

    @Argument(help: ArgumentHelp("The database directory."))
    var database: String

    @Argument(help: ArgumentHelp("Where the replica goes: s3://BUCKET/PREFIX.", valueName: "s3://BUCKET/PREFIX"))
    var replica: String

    @OptionGroup var repeating: RepeatOptions

    @OptionGroup var s3: S3Options

    func run() throws {
        let location = try S3Options.location(replica)
        let client = try s3.client()
        let db = try DatabaseAccess.openForReading(database)
        defer { try? db.close() }
        let replicator = Replicator(database: db, client: client, location: location)
        let (once, interval) = (repeating.once, repeating.duration)
        try AsyncCommand.run(stopOnSignals: !once) {
            if once {
                Self.say(try await replicator.ship(), location: location)
                return
            }
            try await replicator.run(interval: interval) { event in
                switch event {
                case .shipped(let report): Self.say(report, location: location)
                case .retrying(let reason): ProgressBar.writeToStandardError("cowdb: warning: \(reason) (retrying)\n")
                }
            }
        }
    }

    /// One line per pass that shipped something (and for `--once`, always).
    private static func say(_ report: ReplicationReport, location: ReplicaLocation) {
        var line = "shipped version \(report.version) (generation \(report.generation)) to \(location): \(report.segments) segments, \(report.bytes) bytes"
        if report.adopted > 0 { line += ", \(report.adopted) found uploaded" }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
