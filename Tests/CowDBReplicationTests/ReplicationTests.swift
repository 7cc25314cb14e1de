import CowDB
@testable import CowDBReplication
import CowDBTestHarness
import CowDBTestSupport
import XCTest

/// Replicate to a real S3 API server (moto_server), restore every kind of target, and follow.
final class ReplicationTests: XCTestCase {
    /// Ships in passes across a compaction; restores of the latest version, of versions by
    /// number, by time and by tag each hold exactly the source's versions through the target.
    func testRestoresEveryKindOfTargetAcrossACompaction() async throws {
        let (client, bucket) = try await motoClient()
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        var generator = SeededGenerator(seed: testSeed("ReplicationTests.targets"))
        let location = ReplicaLocation(bucket: bucket, prefix: "apps/one")
        let replicator = Replicator(database: db, client: client, location: location, maxSegmentBytes: 48 << 10)

        try commitRandomly(db, count: 30, generator: &generator)
        var shippedBytes = try await replicator.ship().bytes
        try commitRandomly(db, count: 1, generator: &generator)
        let one = try await replicator.ship()
        XCTAssertEqual(one.segments, 1)
        shippedBytes += one.bytes
        try db.tag("release", version: 12)
        try commitRandomly(db, count: 20, generator: &generator)
        shippedBytes += try await replicator.ship().bytes
        let again = try await replicator.ship()
        XCTAssertEqual(again.segments, 0, "nothing new, nothing uploaded")
        XCTAssertEqual(shippedBytes, try db.shippingView().end, "bytes uploaded = bytes committed")
        let first = try everyVersion(of: db)
        XCTAssertEqual(first.count, 51)

        // Halfway between versions 25 and 26 (a Date holds nanoseconds only approximately).
        let stamps = try db.versions().filter { $0.version == 25 || $0.version == 26 }.map { Double($0.timestampNanoseconds) }
        let timeOf25 = Date(timeIntervalSince1970: (stamps[0] + stamps[1]) / 2e9)
        let cases: [(RestoreTarget, UInt64)] = [(.latest, 51), (.version(1), 1), (.version(17), 17), (.tag("release"), 12), (.asOf(timeOf25), 25)]
        for (i, (target, expected)) in cases.enumerated() {
            let report = try await ReplicaRestore.restore(from: location, client: client, to: dir.path("restore\(i)"), target: target)
            XCTAssertEqual(report.version, expected, "\(target)")
            try assertHolds(dir.path("restore\(i)"), first.filter { $0.key <= expected }, tags: expected >= 12 ? ["release"] : [])
        }

        // A compaction keeping the last 10 versions: generation 2 starts with a full copy.
        try compactKeepingLast(db, 10)
        try commitRandomly(db, count: 5, generator: &generator)
        let afterCompaction = try await replicator.ship()
        XCTAssertEqual(afterCompaction.generation, 2)
        XCTAssertEqual(afterCompaction.bytes, try db.shippingView().end, "a new generation ships whole, once")
        let second = try everyVersion(of: db)
        _ = try await ReplicaRestore.restore(from: location, client: client, to: dir.path("latest2"))
        try assertHolds(dir.path("latest2"), second, tags: ["release"])
        // Version 20 is gone from generation 2; the replica still has it in generation 1.
        _ = try await ReplicaRestore.restore(from: location, client: client, to: dir.path("v20"), target: .version(20))
        try assertHolds(dir.path("v20"), first.filter { $0.key <= 20 }, tags: ["release"])
    }

    /// A replicator stopped after uploading a segment and before writing the manifest (as
    /// SIGKILL can stop it) adopts that segment when it resumes; a stray object that does not
    /// match the database is deleted and the bytes shipped again.
    func testResumeAdoptsUploadsPastTheManifestAndDeletesStrayOnes() async throws {
        let (client, bucket) = try await motoClient()
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        var generator = SeededGenerator(seed: testSeed("ReplicationTests.resume"))
        let location = ReplicaLocation(bucket: bucket, prefix: "")
        try commitRandomly(db, count: 10, generator: &generator)
        _ = try await Replicator(database: db, client: client, location: location).ship()

        // An upload the manifest does not name yet, equal to the local bytes.
        let shipped = try db.shippingView().end
        try commitRandomly(db, count: 3, generator: &generator)
        let view = try db.shippingView()
        try await client.putObject(bucket: bucket, key: location.segmentKey(1, shipped ..< view.end), body: view.bytes(shipped ..< view.end))
        // And one from the same start that sorts after it and continues nothing: deleted.
        let overlapping = location.segmentKey(1, shipped ..< view.end + 4096)
        try await client.putObject(bucket: bucket, key: overlapping, body: [UInt8](repeating: 3, count: Int(view.end + 4096 - shipped)))
        let resumed = try await Replicator(database: db, client: client, location: location).ship()
        let afterResume = try await client.listObjects(bucket: bucket, prefix: location.segmentsFolder(1)).map(\.key)
        XCTAssertFalse(afterResume.contains(overlapping))
        XCTAssertEqual(resumed.adopted, 1)
        XCTAssertEqual(resumed.segments, 0, "adopted, not uploaded again")
        XCTAssertEqual(resumed.version, 13)

        // A stray upload past the manifest that is not this database's bytes.
        try commitRandomly(db, count: 2, generator: &generator)
        let later = try db.shippingView()
        let strayKey = location.segmentKey(1, view.end ..< later.end)
        try await client.putObject(bucket: bucket, key: strayKey, body: [UInt8](repeating: 7, count: Int(later.end - view.end)))
        let third = try await Replicator(database: db, client: client, location: location).ship()
        XCTAssertEqual(third.adopted, 0)
        XCTAssertEqual(third.segments, 1)
        let uploaded = try await client.getObject(bucket: bucket, key: strayKey)
        XCTAssertEqual(uploaded, later.bytes(view.end ..< later.end))
        _ = try await ReplicaRestore.restore(from: location, client: client, to: dir.path("restored"))
        try assertHolds(dir.path("restored"), try everyVersion(of: db), tags: [])

        // An upload past generation 1's manifest entry, then a compaction: a replicator that
        // resumes in generation 2 deletes it.
        let strayOld = location.segmentKey(1, later.end ..< later.end + 8192)
        try await client.putObject(bucket: bucket, key: strayOld, body: [UInt8](repeating: 1, count: 8192))
        try compactKeepingLast(db, 3)
        _ = try await Replicator(database: db, client: client, location: location).ship()
        let generationOne = try await client.listObjects(bucket: bucket, prefix: location.segmentsFolder(1)).map(\.key)
        XCTAssertFalse(generationOne.contains(strayOld))
        XCTAssertFalse(generationOne.isEmpty)
    }

    /// Another database's replicator refuses a prefix that holds a replica of this one.
    func testAnotherDatabaseCannotShipIntoAReplica() async throws {
        let (client, bucket) = try await motoClient()
        let dir = TemporaryDirectory()
        let location = ReplicaLocation(bucket: bucket, prefix: "p")
        var generator = SeededGenerator(seed: 7)
        let one = try openDatabase(path: dir.path("one"))
        let two = try openDatabase(path: dir.path("two"))
        try commitRandomly(one, count: 2, generator: &generator)
        try commitRandomly(two, count: 2, generator: &generator)
        _ = try await Replicator(database: one, client: client, location: location).ship()
        do {
            _ = try await Replicator(database: two, client: client, location: location).ship()
            XCTFail("shipped into another database's replica")
        } catch let error as ReplicaError {
            guard case .notAReplica = error else { return XCTFail("\(error)") }
        }
        // `run()` ends with the error too: it is not one to retry.
        do {
            try await Replicator(database: two, client: client, location: location).run()
            XCTFail("ran into another database's replica")
        } catch let error as ReplicaError {
            guard case .notAReplica = error else { return XCTFail("\(error)") }
        }
    }

    /// The README's replication snippet, as written (the environment pointed at moto_server;
    /// `run()` cancelled once the commit is in the bucket).
    func testReadmeSnippet() async throws {
        let server = try await MotoServer.shared()
        _ = try await server.client().createBucket("backups")
        setenv("AWS_ENDPOINT_URL", server.endpoint, 1)
        setenv("AWS_ACCESS_KEY_ID", "testing", 1)
        setenv("AWS_SECRET_ACCESS_KEY", "testing", 1)
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("app.cowdb"))
        for i in 0 ..< 120 { try put(db, "k\(i)", b("v")) }
        let restored = dir.path("restored.cowdb")

        let client = S3Client(configuration: try S3Configuration.fromEnvironment())
        let replicator = Replicator(database: db, client: client, location: try ReplicaLocation("s3://backups/app"))
        let running = Task { try await replicator.run() }
        var polls = 0
        while try await client.getObjectIfExists(bucket: "backups", key: "app/manifest.json") == nil, polls < 1000 {
            try await Task.sleep(nanoseconds: 20_000_000)
            polls += 1
        }
        running.cancel()
        try await running.value
        try await ReplicaRestore.restore(from: try ReplicaLocation("s3://backups/app"), client: client,
                                         to: restored, target: .version(120))

        let copy = try openDatabase(path: restored)
        XCTAssertEqual(copy.latestVersion, 120)
        try copy.close()
    }

    /// Restored databases hold exactly `versions` (each version's contents) and the `tags`.
    private func assertHolds(_ path: String, _ versions: [UInt64: [String: [[UInt8]: [UInt8]]]], tags: [String],
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let restored = try openDatabase(path: path)
        defer { try? restored.close() }
        let held = try everyVersion(of: restored)
        XCTAssertEqual(held.keys.sorted(), versions.keys.sorted(), file: file, line: line)
        for (version, expected) in versions where held[version] != expected {
            XCTFail("version \(version) differs", file: file, line: line)
        }
        XCTAssertEqual(try restored.tags().map(\.name), tags, file: file, line: line)
    }
}

/// A compaction keeping the last `count` versions (the blocking form).
func compactKeepingLast(_ db: Database, _ count: Int) throws {
    _ = try db.compact(keeping: RetentionPolicy(keepLast: count))
}

