import ArgumentParser
import CowDB
import CowDBReplication
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

/// Runs the async work of `replicate`, `restore` and `follow` from the tool's synchronous
/// entry point, and words its failures as one line each.
enum AsyncCommand {
    /// Runs `body` to its end and rethrows its failure as a `ToolError`. With `stopOnSignals`,
    /// SIGINT and SIGTERM cancel it (it finishes the upload in progress) instead of killing
    /// the process.
    static func run(stopOnSignals: Bool = false, _ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            do { try await body() } catch { outcome.error = error }
            done.signal()
        }
        var sources: [any DispatchSourceSignal] = []
        if stopOnSignals {
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { task.cancel() }
                source.resume()
                sources.append(source)
            }
        }
        done.wait()
        sources.forEach { $0.cancel() }
        if let error = outcome.error, !(error is CancellationError) { throw toolError(error) }
    }

    /// One line for any failure of replication.
    static func toolError(_ error: any Error) -> ToolError {
        switch error {
        case let error as ToolError: return error
        case let error as ReplicaError:
            switch error {
            case .damaged, .localDamage: return .damaged(error.description)
            default: return .failure(error.description)
            }
        case let error as S3Error: return .failure(error.description)
        case let error as S3ResponseError: return .failure(error.description)
        case let error as CowDBError: return .from(error)
        default:
            let text = String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            return .failure("s3: no answer from the server: \(text)")
        }
    }

    /// The failure of the task, handed to the waiting thread.
    private final class Outcome: @unchecked Sendable {  // written by the task before it signals, read after the wait
        var error: (any Error)?
    }
}
