import CowDB
import CowDBReplication
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command's async work (`watch`, `replicate`, `restore`, `follow`) from the tool's
/// synchronous entry point, and words its failures as one line each.
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
