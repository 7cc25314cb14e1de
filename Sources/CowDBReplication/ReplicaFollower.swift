import CowDB
import CowDBStorage
import Foundation

/// What one poll of a ``ReplicaFollower`` applied.
public struct FollowReport: Sendable, Equatable {
    /// The replica's latest version after the poll.
    public var version: UInt64
    /// Its data-file generation.
    public var generation: UInt64
    /// Segments applied by this poll.
    public var segments: Int
}

/// Keeps a local read-only replica current from a replica in S3-compatible storage, as
/// `cowdb follow` does: the first poll restores it if it does not exist; each poll reads the
/// manifest (object storage cannot push), downloads the segments past what the replica holds,
/// verifies them against its last commit, appends them and publishes them, so that processes
/// reading the replica (read-only) see each new version as a writer's commit. A compaction at
/// the source arrives as a new generation, switched to as compaction switches.
///
/// It holds the replica's writer lock while it runs: the replica is read-only to everyone else.
public actor ReplicaFollower {
    /// Where the replica is read from.
    public let location: ReplicaLocation
    /// The local replica's directory.
    public let destination: String
    let client: S3Client
    private var writer: ReplicaWriter?
    /// The tags object and the version they were last written for.
    private var writtenTags: (bytes: [UInt8]?, version: UInt64)?

    /// A follower of `location` into `destination`.
    public init(location: ReplicaLocation, client: S3Client, destination: String) {
        self.location = location
        self.client = client
        self.destination = destination
    }

    /// Applies what the replica holds beyond the local copy (restoring it first if missing).
    @discardableResult
    public func poll() async throws -> FollowReport {
        let writer = try await openWriter()
        do {
            return try await poll(writer)
        } catch {
            // Whatever was half done (a generation switch, an index write) is redone from the
            // replica's state on disk: the next poll reopens it, and recovery cuts any torn tail.
            writer.close()
            self.writer = nil
            throw error
        }
    }

    /// One poll through `writer`.
    private func poll(_ writer: ReplicaWriter) async throws -> FollowReport {
        let manifest = try await ReplicaRestore.readManifest(location, client: client)
        guard manifest.database == writer.uuid?.uuidString, manifest.pageSize == writer.pageSize else {
            throw ReplicaError.notAReplica(location: location.description, reason: "it replicates database \(manifest.database); \(destination) is \(writer.uuid?.uuidString ?? "empty")")
        }
        let newest = manifest.generations.last!
        var segments = 0
        let fetcher = SegmentFetcher(client: client, location: location, manifest: manifest)
        if newest.generation == writer.generation, newest.end > writer.end {
            try await fetcher.fetch(generation: newest.generation, from: writer.end, to: newest.end, after: writer.latest) { bytes, commits in
                try writer.append(bytes, commits: commits)
                segments += 1
                return true
            }
        } else if newest.generation > writer.generation {
            try writer.beginGeneration(newest.generation, pageSize: manifest.pageSize)
            try await fetcher.fetch(generation: newest.generation, from: 0, to: newest.end, after: nil) { bytes, commits in
                try writer.append(bytes, commits: commits)
                segments += 1
                return true
            }
            try writer.finishGeneration()
        } else if newest.generation < writer.generation || newest.end < writer.end {
            throw ReplicaError.diverged("\(destination) is ahead of \(location) (generation \(writer.generation), byte \(writer.end))")
        }
        // The tags that name a version the replica has: written again when either changes.
        let tags = try await client.getObjectIfExists(bucket: location.bucket, key: location.tagsKey)
        let version = writer.latest?.record.version ?? 0
        if writtenTags?.bytes != tags || writtenTags?.version != version {
            try writer.writeTags(try RestorePlan.tags(tags, key: location.tagsKey, through: version))
            writtenTags = (tags, version)
        }
        return FollowReport(version: writer.latest?.record.version ?? 0, generation: writer.generation, segments: segments)
    }

    /// Polls every `interval` until the task is cancelled. A transient failure is reported to
    /// `onEvent` and retried at the next poll; any other error ends it.
    public func run(interval: Duration = .seconds(1), onEvent: @Sendable (FollowEvent) -> Void = { _ in }) async throws {
        while !Task.isCancelled {
            do {
                let report = try await poll()
                if report.segments > 0 { onEvent(.applied(report)) }
            } catch {
                if Task.isCancelled { return }
                guard S3Client.isTransient(error) else { throw error }
                onEvent(.retrying(String(describing: error)))
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Releases the replica (its writer lock).
    public func close() {
        writer?.close()
        writer = nil
    }

    /// The replica's writer, restoring the replica first when it does not exist.
    private func openWriter() async throws -> ReplicaWriter {
        if let writer { return writer }
        if !FileManager.default.fileExists(atPath: destination) {
            _ = try await ReplicaRestore.restore(from: location, client: client, to: destination)
        }
        let opened = try ReplicaWriter(path: destination)
        do {
            try await checkContinues(opened)
        } catch {
            opened.close()
            throw error
        }
        writer = opened
        return opened
    }

    /// Refuses a replica whose last commit is not the bucket's at the same place (it was written
    /// to while not followed, or restored from another replica): the bucket's later commits
    /// would be read over pages that differ. The segment of the bucket that ends where the
    /// replica ends must end with the same commit record, byte for byte.
    private func checkContinues(_ writer: ReplicaWriter) async throws {
        let manifest = try await ReplicaRestore.readManifest(location, client: client)
        guard let entry = manifest.entry(writer.generation), let local = try writer.lastCommitPage() else { return }
        let folder = location.segmentsFolder(writer.generation)
        let ending = try await client.listObjects(bucket: location.bucket, prefix: folder).first {
            location.segmentRange(ofKey: $0.key, generation: writer.generation)?.upperBound == writer.end
        }
        var matches = false
        if let ending, writer.end <= entry.end {
            let bytes = try await client.getObject(bucket: location.bucket, key: ending.key)
            matches = bytes.count >= local.count && bytes.suffix(local.count).elementsEqual(local)
        }
        guard matches else {
            throw ReplicaError.diverged("\(destination) ends with a commit (version \(writer.latest?.record.version ?? 0), byte \(writer.end)) that \(location) does not hold; restore it anew")
        }
    }
}

/// What a running ``ReplicaFollower`` reports.
public enum FollowEvent: Sendable {
    /// A poll applied new segments.
    case applied(FollowReport)
    /// A poll failed transiently (its error's description); the next poll tries again.
    case retrying(String)
}
