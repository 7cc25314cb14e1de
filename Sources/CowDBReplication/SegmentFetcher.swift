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
        let (client, bucket) = (client, location.bucket)
        for (i, (range, key)) in plan.enumerated() {
            while downloads.count < min(prefetch, plan.count - i) {
                let key = plan[i + downloads.count].key
                downloads.append(Task { try await client.getObject(bucket: bucket, key: key) })
            }
            let bytes = try await downloads.removeFirst().value
            guard bytes.count == range.count else {
                downloads.forEach { $0.cancel() }
                throw ReplicaError.damaged(object: key, reason: "it is \(bytes.count) bytes long; its name says \(range.count) (truncated or altered)")
            }
            let commits = try bytes.withUnsafeBytes { buffer throws(ReplicaError) in
                try SegmentVerifier.commits(of: buffer, start: range.lowerBound, generation: generation, database: manifest.database,
                                            pageSize: manifest.pageSize, after: anchor, object: key)
            }
            anchor = commits.last
            guard try body(bytes, commits) else {
                downloads.forEach { $0.cancel() }
                return
            }
        }
    }

    /// The segments covering [from, end) in order, from one listing; throws naming the first
    /// object missing or out of place.
    private func segments(of generation: UInt64, from: UInt64, to end: UInt64) async throws -> [(range: Range<UInt64>, key: String)] {
        let folder = location.segmentsFolder(generation)
        var byStart: [UInt64: (Range<UInt64>, S3ObjectSummary)] = [:]
        for object in try await client.listObjects(bucket: location.bucket, prefix: folder) {
            if let range = location.segmentRange(ofKey: object.key, generation: generation) { byStart[range.lowerBound] = (range, object) }
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
