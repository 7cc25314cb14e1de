import CowDB
@testable import CowDBReplication
import CowDBTestHarness
import CowDBTestSupport
import XCTest

/// Damage in the bucket: restore fails naming the object and leaves no database behind.
final class ReplicaDamageTests: XCTestCase {
    /// Each segment in turn truncated, altered (one byte flipped at a seeded place), deleted,
    /// or replaced by another segment's bytes; then the manifest and the tags damaged. Restored
    /// once undamaged again, the database is whole.
    func testEveryDamagedObjectIsNamedAndNothingIsRestored() async throws {
        let (client, bucket) = try await motoClient()
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        var generator = SeededGenerator(seed: testSeed("ReplicaDamageTests.objects"))
        try commitRandomly(db, count: 25, generator: &generator)
        try db.tag("t", version: 3)
        let location = ReplicaLocation(bucket: bucket, prefix: "d")
        _ = try await Replicator(database: db, client: client, location: location, maxSegmentBytes: 32 << 10).ship()
        let damage = Damage(client: client, location: location, destination: dir.path("restored"))
        try await damage.eachSegment(generator: &generator)

        let manifest = try await client.getObject(bucket: bucket, key: location.manifestKey)
        try await damage.replace(location.manifestKey, with: Array(manifest.dropLast(9)), original: manifest, "a truncated")
        let tags = try await client.getObject(bucket: bucket, key: location.tagsKey)
        var badTags = tags
        badTags[badTags.count / 2] ^= 1
        try await damage.replace(location.tagsKey, with: badTags, original: tags, "an altered")

        let report = try await ReplicaRestore.restore(from: location, client: client, to: dir.path("restored"))
        XCTAssertEqual(report.version, 25)
        let restored = try openDatabase(path: dir.path("restored"))
        XCTAssertEqual(try contents(of: restored, at: 25), try contents(of: db, at: 25))
        try restored.close()
    }

    /// A location with no replica, and a destination that exists, fail with one clear error.
    func testNoReplicaAndAnExistingDestination() async throws {
        let (client, bucket) = try await motoClient()
        let dir = TemporaryDirectory()
        do {
            _ = try await ReplicaRestore.restore(from: ReplicaLocation(bucket: bucket, prefix: "nothing"), client: client, to: dir.path("x"))
            XCTFail("restored from nothing")
        } catch let error as ReplicaError {
            XCTAssertEqual(error.description, "s3://\(bucket)/nothing holds no replica of this database: no nothing/manifest.json")
        }
        do {
            _ = try await ReplicaRestore.restore(from: ReplicaLocation(bucket: bucket, prefix: "p"), client: client, to: dir.url.path)
            XCTFail("restored over an existing directory")
        } catch let error as CowDBError {
            guard case .invalidArgument = error else { return XCTFail("\(error)") }
        }
    }
}

/// Damages objects of a replica one at a time, checks that restore names each, then repairs it.
private struct Damage {
    let client: S3Client
    let location: ReplicaLocation
    let destination: String

    /// Each segment truncated, altered, swapped with a segment of the same size, and deleted.
    func eachSegment(generator: inout SeededGenerator) async throws {
        let segments = try await client.listObjects(bucket: location.bucket, prefix: location.segmentsFolder(1))
        XCTAssertGreaterThan(segments.count, 3)
        for (i, segment) in segments.enumerated() {
            let original = try await client.getObject(bucket: location.bucket, key: segment.key)
            try await replace(segment.key, with: Array(original.dropLast(4096)), original: original, "a truncated")
            var altered = original
            altered[Int(generator.next() % UInt64(altered.count))] ^= 0x20
            try await replace(segment.key, with: altered, original: original, "an altered")
            if i == 0 { // the header page's zeros, after the 64-byte header
                var padding = original
                padding[100] = 1
                try await replace(segment.key, with: padding, original: original, "a header page altered in")
            }
            let other = segments[(i + 1) % segments.count]
            if other.size == segment.size, other.key != segment.key {
                let swapped = try await client.getObject(bucket: location.bucket, key: other.key)
                try await replace(segment.key, with: swapped, original: original, "a swapped")
            }
            try await client.deleteObject(bucket: location.bucket, key: segment.key)
            try await expectDamaged(segment.key, "a missing")
            try await client.putObject(bucket: location.bucket, key: segment.key, body: original)
        }
    }

    /// Puts `damaged` as `key`, expects restore to name it, then puts `original` back.
    func replace(_ key: String, with damaged: [UInt8], original: [UInt8], _ what: String) async throws {
        try await client.putObject(bucket: location.bucket, key: key, body: damaged)
        try await expectDamaged(key, what)
        try await client.putObject(bucket: location.bucket, key: key, body: original)
    }

    /// Restore must fail with `damaged` naming `object`, and leave nothing at the destination.
    func expectDamaged(_ object: String, _ what: String) async throws {
        do {
            _ = try await ReplicaRestore.restore(from: location, client: client, to: destination)
            XCTFail("restored from a replica with \(what) \(object)")
        } catch let error as ReplicaError {
            guard case .damaged(let named, _) = error else { return XCTFail("\(what) \(object): \(error)") }
            XCTAssertTrue(named == object || object.hasPrefix(named.replacingOccurrences(of: "…", with: "")), "\(what): named \(named), not \(object)")
            XCTAssertFalse(error.description.contains("\n"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: destination), "\(what) \(object) left a database behind")
        XCTAssertFalse(FileManager.default.fileExists(atPath: destination + ".restoring"))
    }
}
