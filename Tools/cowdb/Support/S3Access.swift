import ArgumentParser
import CowDB
import CowDBReplication
import Foundation

/// The S3 server and credentials, as the AWS tools take them: `--endpoint` or
/// `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (default
/// us-east-1). Objects are addressed path-style.
struct S3Options: ParsableArguments {
    @Option(help: ArgumentHelp("The S3-compatible server, e.g. http://127.0.0.1:9000 (default: $AWS_ENDPOINT_URL, else AWS S3 of $AWS_REGION).", valueName: "URL"))
    var endpoint: String?

    /// A client for the server.
    func client() throws -> S3Client {
        var environment = ProcessInfo.processInfo.environment
        if endpoint == nil, (environment["AWS_ENDPOINT_URL"] ?? "").isEmpty {
            environment["AWS_ENDPOINT_URL"] = "https://s3.\(environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1").amazonaws.com"
        }
        do {
            return S3Client(configuration: try S3Configuration.fromEnvironment(environment, endpoint: endpoint))
        } catch {
            throw ToolError.failure(error.description)
        }
    }

    /// A location from `s3://BUCKET/PREFIX`, as a one-line error when it is not one.
    static func location(_ text: String) throws -> ReplicaLocation {
        do {
            return try ReplicaLocation(text)
        } catch {
            throw ToolError.failure(error.description)
        }
    }
}

/// How `replicate` and `follow` repeat: every `--interval` seconds, or once.
struct RepeatOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds between looks for new commits (replicate also wakes at each commit).", valueName: "SECONDS"))
    var interval: Double = 1

    @Flag(help: "Do one pass over what is new, then exit.")
    var once = false

    func validate() throws {
        guard interval > 0, interval <= 3600 else { throw ValidationError("--interval must be in (0, 3600] seconds") }
    }

    /// The interval as a duration.
    var duration: Duration { .milliseconds(Int64(interval * 1000)) }
}
