import CowDB
import CowDBStorage
import Foundation

/// Downloads a generation's segments in order and verifies each before handing it on: every
/// segment must start where the previous one ended (their keys name their byte ranges), be as
/// long as its name says, and hold whole commits that continue the chain. A gap, a short or
/// altered object, or a segment from elsewhere throws ``ReplicaError/damaged(object:reason:)``
/// naming the object; nothing after it is used.
struct SegmentFetcher {
    let client: S3Client
    let location: ReplicaLocation
    let manifest: ReplicaManifest
    /// Segments downloaded ahead of the one being verified and written.
    var prefetch = 4

    /// Fetches bytes [from, end) of `generation`, which continue `anchor` (nil from byte 0), and
    /// calls `body` with each segment's bytes and commits, in order, until it returns false.
    /// It runs on the caller's actor (`isolation`), as `body` does.
    func fetch(generation: UInt64, from: UInt64, to end: UInt64, after anchor: CommitPoint?,
               isolation: isolated (any Actor)? = #isolation,
               _ body: ([UInt8], [CommitPoint]) throws -> Bool) async throws {
        let plan = try await segments(of: generation, from: from, to: end)
        var anchor = anchor
        var downloads: [Task<[UInt8], any Error>] = []
        defer { downloads.forEach { $0.cancel() } }
        let (client, bucket) = (client, location.bucket)
        for (i, (range, key)) in plan.enumerated() {
            // Ahead: up to `prefetch` segments, and no more than 256 MiB beyond the current one.
            var ahead = plan[i ..< i + downloads.count].reduce(UInt64(0)) { $0 + UInt64($1.range.count) }
            while downloads.count < min(prefetch, plan.count - i), downloads.isEmpty || ahead <= 256 << 20 {
                let next = plan[i + downloads.count]
                ahead += UInt64(next.range.count)
                downloads.append(Task { try await client.getObject(bucket: bucket, key: next.key) })
            }
            let bytes = try await downloads.removeFirst().value
            guard bytes.count == range.count else {
                throw ReplicaError.damaged(object: key, reason: "it is \(bytes.count) bytes long; its name says \(range.count) (truncated or altered)")
            }
            let commits = try bytes.withUnsafeBytes { buffer throws(ReplicaError) in
                try SegmentVerifier.commits(of: buffer, start: range.lowerBound, generation: generation, database: manifest.database,
                                            pageSize: manifest.pageSize, after: anchor, object: key)
            }
            anchor = commits.last
            guard try body(bytes, commits) else { return }
        }
    }

    /// The segments covering [from, end) in order, from one listing; throws naming the first
    /// object missing or out of place.
    private func segments(of generation: UInt64, from: UInt64, to end: UInt64) async throws -> [(range: Range<UInt64>, key: String)] {
        let folder = location.segmentsFolder(generation)
        // Segments by start. Two with one start (an upload past the manifest that a replicator
        // stopped before it could adopt or delete it): the one that ends where another starts,
        // or at `end`, continues the replica.
        var candidates: [UInt64: [(Range<UInt64>, S3ObjectSummary)]] = [:]
        for object in try await client.listObjects(bucket: location.bucket, prefix: folder) {
            if let range = location.segmentRange(ofKey: object.key, generation: generation) { candidates[range.lowerBound, default: []].append((range, object)) }
        }
        let byStart = candidates.compactMapValues { found in
            found.first { $0.0.upperBound == end || candidates[$0.0.upperBound] != nil } ?? found.first
        }
        var plan: [(range: Range<UInt64>, key: String)] = []
        var offset = from
        while offset < end {
            guard let (range, object) = byStart[offset] else {
                throw ReplicaError.damaged(object: folder + ReplicaLocation.hex(offset) + "-…",
                                           reason: "missing: no segment starts at byte \(offset), and the manifest says generation \(generation) holds bytes [0, \(end))")
            }
            guard range.upperBound <= end else {
                throw ReplicaError.damaged(object: object.key, reason: "it ends past byte \(end), where the manifest says generation \(generation) ends")
            }
            guard object.size == range.count else {
                throw ReplicaError.damaged(object: object.key, reason: "it is \(object.size) bytes long; its name says \(range.count) (truncated or altered)")
            }
            plan.append((range, object.key))
            offset = range.upperBound
        }
        return plan
    }
}
