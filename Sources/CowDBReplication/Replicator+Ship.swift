import CowDB
import CowDBStorage
import Foundation

// A replicator's passes: resuming from the bucket, uploading the tail, the tags and the
// manifest. Order matters for restore and for a replicator killed at any instant: segments
// first, the manifest after them (a restore trusts only what the manifest covers), and on
// resume the uploads past the manifest are compared with the local file before they count.

extension Replicator {
    /// First pass: reads the manifest (none: a new replica), checks it is this database's and
    /// that the local file still holds what it says was shipped, then adopts uploads past it.
    /// Nothing is kept until every check passed and the uploads are sorted out (`resumed`), so
    /// a failed resume is done again whole. Returns how many segments it adopted.
    func resume(_ view: ShippingView) async throws -> Int {
        let key = location.manifestKey
        var found = ReplicaManifest(database: view.uuid.uuidString, pageSize: view.pageSize, generations: [])
        if let bytes = try await client.getObjectIfExists(bucket: location.bucket, key: key) {
            found = try ReplicaManifest.decode(bytes, key: key)
            guard found.database == view.uuid.uuidString, found.pageSize == view.pageSize else {
                throw ReplicaError.notAReplica(location: location.description,
                                               reason: "it replicates database \(found.database) (page size \(found.pageSize)), this is \(view.uuid.uuidString)")
            }
        }
        if let newest = found.generations.last, newest.generation > view.generation {
            throw ReplicaError.diverged("\(location) holds generation \(newest.generation), newer than this database's \(view.generation)")
        }
        var point: CommitPoint?
        if let entry = found.entry(view.generation) {
            guard let local = view.commit(endingAt: entry.end), local.record.version == entry.version, local.record.timestamp == entry.timestamp else {
                throw ReplicaError.diverged("\(location) holds generation \(entry.generation) through version \(entry.version) (byte \(entry.end)), which this database's file does not hold")
            }
            point = local
        }
        try await deleteStrayUploads(found, current: view.generation)
        let tags = try await client.getObjectIfExists(bucket: location.bucket, key: location.tagsKey)
        (manifest, shippedTags, shippedGeneration, shippedEnd, anchor) = (found, tags, view.generation, point.map { _ in found.entry(view.generation)!.end } ?? 0, point)
        let adopted = try await adoptUploads(view)
        resumed = true
        return adopted
    }

    /// Looks past the shipped end of the current generation for segments uploaded before the
    /// manifest could name them: each one that continues the shipped bytes and equals the local
    /// file's bytes is adopted; any other is deleted. Writes the manifest if it adopted any.
    func adoptUploads(_ view: ShippingView) async throws -> Int {
        let listed = try await uploadsPast(shippedEnd, of: shippedGeneration)
        var adopted = 0
        let ranges = listed.compactMap { object in location.segmentRange(ofKey: object.key, generation: shippedGeneration).map { ($0, object) } }
        let start = shippedEnd
        // Every upload past the start is adopted (it continues what is shipped so far) or deleted
        // (a duplicate or overlap of an adopted one included).
        for (range, object) in ranges.sorted(by: { $0.0.lowerBound < $1.0.lowerBound }) where range.lowerBound >= start {
            var matches = false
            if range.lowerBound == shippedEnd, range.upperBound <= view.end, object.size == range.count,
               let point = view.commit(endingAt: range.upperBound) {
                let theirs = try await client.getObject(bucket: location.bucket, key: object.key)
                matches = theirs == view.bytes(range)
                if matches {
                    recordShipped(point, end: range.upperBound, first: range.lowerBound == 0 ? firstCommit(view, through: range.upperBound) : nil)
                    adopted += 1
                }
            }
            if !matches { try await client.deleteObject(bucket: location.bucket, key: object.key) }
        }
        if adopted > 0 { try await putManifest() }
        return adopted
    }

    /// The segments of `generation` that start at or after byte `end` (one short listing: the
    /// keys sort by start).
    func uploadsPast(_ end: UInt64, of generation: UInt64) async throws -> [S3ObjectSummary] {
        let folder = location.segmentsFolder(generation)
        let before = end == 0 ? nil : folder + ReplicaLocation.hex(end - 1) + "-"
        return try await client.listObjects(bucket: location.bucket, prefix: folder, startAfter: before)
    }

    /// Deletes the uploads of earlier generations that their manifest entries do not cover: a
    /// replicator stopped after uploading them and before the manifest named them, then a
    /// compaction moved the database on. (Restore never reads them; this keeps the bucket tidy.)
    func deleteStrayUploads(_ manifest: ReplicaManifest, current: UInt64) async throws {
        let first = manifest.generations.first?.generation ?? current
        for generation in first ..< current {
            let end = manifest.entry(generation)?.end ?? 0
            for object in try await uploadsPast(end, of: generation)
            where location.segmentRange(ofKey: object.key, generation: generation).map({ $0.lowerBound >= end }) ?? false {
                try await client.deleteObject(bucket: location.bucket, key: object.key)
            }
        }
    }

    /// Verifies the bytes from the shipped end to the latest commit, then uploads them in
    /// segments of whole commits (at most `maxSegmentBytes` each, unless one commit is larger),
    /// then the manifest. Returns the segments and bytes uploaded.
    func shipTail(_ view: ShippingView) async throws -> (Int, UInt64) {
        let range = shippedEnd ..< view.end
        let commits: [CommitPoint]
        do {
            commits = try SegmentVerifier.commits(
                of: UnsafeRawBufferPointer(start: view.mapping.base + Int(range.lowerBound), count: range.count),
                start: range.lowerBound, generation: view.generation, database: view.uuid.uuidString, pageSize: view.pageSize,
                after: anchor, object: "local bytes [\(range.lowerBound), \(range.upperBound))")
        } catch {
            throw ReplicaError.localDamage("\(database.path) generation \(view.generation): \(error)")
        }
        let pageSize = UInt64(view.pageSize)
        var segments = 0
        var start = range.lowerBound
        var i = 0
        while i < commits.count {
            // The longest run of commits from `start` within the limit (at least one).
            var j = i
            while j + 1 < commits.count, (commits[j + 1].page + 1) * pageSize - start <= UInt64(maxSegmentBytes) { j += 1 }
            let end = (commits[j].page + 1) * pageSize
            try await client.putObject(bucket: location.bucket, key: location.segmentKey(view.generation, start ..< end), body: view.bytes(start ..< end))
            recordShipped(commits[j], end: end, first: start == 0 ? commits[0] : nil)
            segments += 1
            start = end
            i = j + 1
        }
        try await putManifest()
        return (segments, range.upperBound - range.lowerBound)
    }

    /// Uploads the tags when they changed since the last upload (deletes them when none are left).
    func shipTags() async throws {
        let tags = try database.encodedTags()
        guard tags != shippedTags else { return }
        if let tags {
            try await client.putObject(bucket: location.bucket, key: location.tagsKey, body: tags)
        } else {
            try await client.deleteObject(bucket: location.bucket, key: location.tagsKey)
        }
        shippedTags = tags
    }

    /// Notes that the current generation is shipped through `point` (byte `end`); `first` is
    /// the generation's first commit when this segment starts it.
    private func recordShipped(_ point: CommitPoint, end: UInt64, first: CommitPoint?) {
        shippedEnd = end
        anchor = point
        var entry = manifest!.entry(shippedGeneration) ?? ReplicaManifest.Generation(
            generation: shippedGeneration, end: 0, firstVersion: 0, firstTimestamp: 0, version: 0, timestamp: 0)
        if let first {
            entry.firstVersion = first.record.pack?.firstVersion ?? first.record.version
            entry.firstTimestamp = first.record.timestamp
        }
        (entry.end, entry.version, entry.timestamp) = (end, point.record.version, point.record.timestamp)
        manifest!.update(entry)
    }

    /// The generation's first commit, found in its first segment (bytes [0, end)).
    private func firstCommit(_ view: ShippingView, through end: UInt64) -> CommitPoint? {
        SegmentScan.scan(UnsafeRawBufferPointer(start: view.mapping.base, count: Int(end)),
                         startPage: 0, pageSize: view.pageSize, after: nil).commits.first
    }

    /// Writes the manifest.
    private func putManifest() async throws {
        try await client.putObject(bucket: location.bucket, key: location.manifestKey, body: manifest!.encoded())
    }
}
