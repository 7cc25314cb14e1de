import CowDB
import CowDBFormat
import CowDBStorage
import Foundation

/// The point a restore stops at.
public enum RestoreTarget: Sendable, Equatable {
    /// Everything the replica holds.
    case latest
    /// Through this version.
    case version(UInt64)
    /// Through the last version committed at or before this time.
    case asOf(Date)
    /// Through the last version committed at or before this many nanoseconds since 1970
    /// (exact, where a `Date` rounds: the time `cowdb versions` prints selects that version).
    case asOfNanoseconds(UInt64)
    /// Through the version this tag names.
    case tag(String)
}

/// What a restore built.
public struct RestoreReport: Sendable, Equatable {
    /// The latest version of the restored database.
    public var version: UInt64
    /// The data-file generation it was restored from.
    public var generation: UInt64
    /// Segments downloaded.
    public var segments: Int
    /// Bytes written to its data file.
    public var bytes: UInt64
}

/// Builds a database from a replica (`cowdb restore`): every version up to the target, verified
/// on the way (each segment's commits, chain and checksums, before a byte of it is written) and
/// at the end (recovery, then `check`). It is built beside the destination and renamed into
/// place only once verified, so a failed restore leaves no database behind.
public enum ReplicaRestore {
    /// Restores `location` into `destination` (which must not exist), up to `target`.
    @discardableResult
    public static func restore(from location: ReplicaLocation, client: S3Client, to destination: String,
                               target: RestoreTarget = .latest) async throws -> RestoreReport {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw CowDBError.invalidArgument("\(destination) already exists (restore builds a new database)")
        }
        let manifest = try await readManifest(location, client: client)
        let plan = try await RestorePlan.make(manifest: manifest, target: target, location: location, client: client)
        let building = destination + ".restoring"
        if FileManager.default.fileExists(atPath: building) { try FileManager.default.removeItem(atPath: building) }
        do {
            let report = try await build(plan, into: building, manifest: manifest, location: location, client: client)
            try verify(building, expecting: report.version)
            try POSIXStorage().rename(building, destination)
            try POSIXStorage().syncEveryLevel(of: parentDirectory(of: destination))
            return report
        } catch {
            try? FileManager.default.removeItem(atPath: building)
            throw error
        }
    }

    /// The manifest at `location`; throws `notAReplica` when there is none.
    static func readManifest(_ location: ReplicaLocation, client: S3Client) async throws -> ReplicaManifest {
        guard let bytes = try await client.getObjectIfExists(bucket: location.bucket, key: location.manifestKey) else {
            throw ReplicaError.notAReplica(location: location.description, reason: "no \(location.manifestKey)")
        }
        let manifest = try ReplicaManifest.decode(bytes, key: location.manifestKey)
        guard !manifest.generations.isEmpty else {
            throw ReplicaError.notAReplica(location: location.description, reason: "its manifest lists no generation")
        }
        return manifest
    }

    /// Downloads, verifies and writes the plan's segments, then the tags.
    private static func build(_ plan: RestorePlan, into path: String, manifest: ReplicaManifest, location: ReplicaLocation,
                              client: S3Client) async throws -> RestoreReport {
        let writer = try ReplicaWriter(path: path)
        defer { writer.close() }
        try writer.beginGeneration(plan.generation.generation, pageSize: manifest.pageSize)
        var report = RestoreReport(version: 0, generation: plan.generation.generation, segments: 0, bytes: 0)
        let fetcher = SegmentFetcher(client: client, location: location, manifest: manifest)
        try await fetcher.fetch(generation: plan.generation.generation, from: 0, to: plan.generation.end, after: nil) { bytes, commits in
            report.segments += 1
            let kept = try plan.commitsToKeep(commits)
            guard let last = kept.last else { return false }
            let count = Int((last.page + 1) * UInt64(manifest.pageSize) - writer.end)
            try writer.append(count == bytes.count ? bytes : Array(bytes[0 ..< count]), commits: kept)
            return kept.count == commits.count && !plan.reached(last)
        }
        guard let latest = writer.latest else { throw ReplicaError.notRestorable(plan.missedDescription) }
        if case .version(let version) = plan.cut, latest.record.version != version {
            throw ReplicaError.notRestorable(plan.missedDescription)
        }
        try writer.finishGeneration()
        try writer.writeTags(plan.tags(through: latest.record.version))
        report.version = latest.record.version
        report.bytes = writer.end
        return report
    }

    /// Opens the result as a writer would (recovery verifies every commit again and builds the
    /// index), checks that it ends at `version`, and runs `check`.
    private static func verify(_ path: String, expecting version: UInt64) throws {
        let database = try Database(path: path) // unchecked-open: this is the check
        defer { try? database.close() }
        guard database.latestVersion == version else {
            throw CowDBError.corrupt(page: nil, offset: nil, reason: "the restored database opens at version \(database.latestVersion), not \(version)")
        }
        _ = try database.check()
    }
}
