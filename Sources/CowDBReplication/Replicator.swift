import CowDB
import CowDBStorage
import Foundation

/// What one pass of a ``Replicator`` shipped.
public struct ReplicationReport: Sendable, Equatable {
    /// The data-file generation shipped from.
    public var generation: UInt64
    /// The latest version now in the replica (0: nothing shipped yet).
    public var version: UInt64
    /// Segments uploaded by this pass.
    public var segments: Int
    /// Segment bytes uploaded by this pass.
    public var bytes: UInt64
    /// Segments found in the bucket past the manifest (a replicator killed after uploading
    /// them) and adopted because they equal the local bytes.
    public var adopted: Int
}

/// Ships a database's commits to S3-compatible storage, as `cowdb replicate` does: each commit's
/// bytes once, in segments of whole commits verified before upload, one folder per data-file
/// generation (a compaction starts a new one with a full copy), the tags, and a manifest written
/// after the segments it covers (docs/REPLICATION.md).
///
/// Its state is the bucket: a replicator stopped at any instant, even by SIGKILL, resumes from
/// the manifest and adopts (or removes) what it had uploaded past it, so nothing is uploaded
/// twice or skipped.
public actor Replicator {
    /// The database shipped (read-only is enough: it follows its writer).
    public let database: Database
    /// Where the replica is.
    public let location: ReplicaLocation
    let client: S3Client
    /// The largest segment uploaded, in bytes (a single commit larger than this is one segment).
    public let maxSegmentBytes: Int

    /// What the bucket holds, once the first pass read it.
    var manifest: ReplicaManifest?
    /// Whether the first pass's resume completed (else the next pass resumes again).
    var resumed = false
    /// The pass running or last run: passes take turns (`ship()` may be called while `run()` runs).
    private var lastPass: Task<ReplicationReport, any Error>?
    /// The end of what is shipped in `shippedGeneration`, and the commit that ends it.
    var shippedGeneration: UInt64 = 0
    var shippedEnd: UInt64 = 0
    var anchor: CommitPoint?
    /// The tags object's bytes as last uploaded (or found).
    var shippedTags: [UInt8]?

    /// A replicator of `database` into `location` through `client`.
    public init(database: Database, client: S3Client, location: ReplicaLocation, maxSegmentBytes: Int = 64 << 20) {
        self.database = database
        self.client = client
        self.location = location
        self.maxSegmentBytes = max(maxSegmentBytes, 1)
    }

    /// Ships what was committed since the last pass (on the first pass, since what the bucket
    /// holds), then the tags if they changed.
    @discardableResult
    public func ship() async throws -> ReplicationReport {
        let previous = lastPass
        let pass = Task {
            _ = try? await previous?.value
            return try await self.shipPass()
        }
        lastPass = pass
        return try await withTaskCancellationHandler { try await pass.value } onCancel: { pass.cancel() }
    }

    /// One pass (passes never overlap: see `ship()`).
    private func shipPass() async throws -> ReplicationReport {
        let view = try database.shippingView()
        var report = ReplicationReport(generation: view.generation, version: anchor?.record.version ?? 0, segments: 0, bytes: 0, adopted: 0)
        guard view.latest != nil else { return report }
        if !resumed { report.adopted += try await resume(view) }
        if view.generation != shippedGeneration {
            guard view.generation > shippedGeneration else {
                throw ReplicaError.diverged("the database's generation \(view.generation) is older than the replica's \(shippedGeneration)")
            }
            (shippedGeneration, shippedEnd, anchor) = (view.generation, 0, nil)
            report.adopted += try await adoptUploads(view)
        }
        if view.end > shippedEnd {
            let (segments, bytes) = try await shipTail(view)
            report.segments += segments
            report.bytes += bytes
        }
        try await shipTags()
        report.version = anchor?.record.version ?? 0
        return report
    }

    /// Ships until the task is cancelled: a pass, then a wait for the next commit (woken by the
    /// writer's publication) or `interval`, whichever comes first. A transient failure (the
    /// server unreachable past the client's retries) is reported to `onEvent` and retried after
    /// a growing pause (up to 30 s); any other error ends it.
    public func run(interval: Duration = .seconds(1), onEvent: @Sendable (ReplicationEvent) -> Void = { _ in }) async throws {
        var failures = 0
        while !Task.isCancelled {
            let sequence = database.commitSequence
            do {
                let report = try await ship()
                failures = 0
                if report.segments > 0 || report.adopted > 0 { onEvent(.shipped(report)) }
            } catch {
                if Task.isCancelled { return }
                guard S3Client.isTransient(error) else { throw error }
                failures += 1
                onEvent(.retrying(String(describing: error)))
                try? await Task.sleep(nanoseconds: UInt64(min(30, 0.5 * Double(1 << min(failures, 6))) * 1e9))
                continue
            }
            await waitForCommit(after: sequence, atMost: interval)
        }
    }

    /// Returns when a commit is published after `sequence`, `interval` passes, or the task is cancelled.
    private func waitForCommit(after sequence: UInt64, atMost interval: Duration) async {
        let database = database
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await database.waitForCommit(after: sequence) }
            group.addTask { try? await Task.sleep(for: interval) }
            await group.next()
            group.cancelAll()
        }
    }
}

/// What a running ``Replicator`` reports.
public enum ReplicationEvent: Sendable {
    /// A pass shipped something.
    case shipped(ReplicationReport)
    /// A pass failed transiently (its error's description); it will be tried again.
    case retrying(String)
}
