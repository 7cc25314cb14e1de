import ArgumentParser
import CowDB
import CowDBReplication
import Foundation

/// `cowdb follow`: keeps a read-only replica current from S3-compatible storage.
struct FollowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "follow",
        abstract: "Keep a local read-only replica current from S3-compatible storage.",
        discussion: """
            Restores DEST if it does not exist, then reads the replica's manifest every --interval \
            seconds and appends the new commits, verified, to DEST, publishing each batch as a \
            writer's commit: processes reading DEST (read-only, e.g. 'cowdb get', 'cowdb watch') \
            see new versions as they arrive. A compaction at the source arrives as a new \
            generation. It holds DEST's writer lock until it stops (SIGINT or SIGTERM).

            Examples:
              cowdb follow s3://backups/app replica.cowdb
              cowdb follow s3://backups/app replica.cowdb --interval 5
            """)

    @Argument(help: ArgumentHelp("The replica: s3://BUCKET/PREFIX.", valueName: "s3://BUCKET/PREFIX"))
    var replica: String

    @Argument(help: ArgumentHelp("The local replica's directory (restored first if missing)."))
    var destination: String

    @OptionGroup var repeating: RepeatOptions

    @OptionGroup var s3: S3Options

    func run() throws {
        let location = try S3Options.location(replica)
        let follower = ReplicaFollower(location: location, client: try s3.client(), destination: destination)
        let (once, interval) = (repeating.once, repeating.duration)
        try AsyncCommand.run(stopOnSignals: !once) {
            do {
                if once {
                    Self.say(try await follower.poll())
                } else {
                    try await follower.run(interval: interval) { event in
                        switch event {
                        case .applied(let report): Self.say(report)
                        case .retrying(let reason): ProgressBar.writeToStandardError("cowdb: warning: \(reason) (retrying)\n")
                        }
                    }
                }
            } catch {
                await follower.close()
                throw error
            }
            await follower.close()
        }
    }

    /// One line per poll that applied something (and for `--once`, always).
    private static func say(_ report: FollowReport) {
        let line = "replica at version \(report.version) (generation \(report.generation)): \(report.segments) segments applied"
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
