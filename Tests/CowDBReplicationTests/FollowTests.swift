import CowDB
@testable import CowDBReplication
import CowDBTestHarness
import CowDBTestSupport
import XCTest

/// A followed replica stays current while a read-only process-level reader reads it.
final class FollowTests: XCTestCase {
    /// The first poll restores; each later poll appends what was shipped, and a reader that
    /// keeps the replica open sees every version, across the source's compaction too.
    func testFollowedReplicaIsReadableAndCurrentAcrossACompaction() async throws {
        let (client, bucket) = try await motoClient()
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        var generator = SeededGenerator(seed: testSeed("FollowTests.follow"))
        let location = ReplicaLocation(bucket: bucket, prefix: "f")
        let replicator = Replicator(database: db, client: client, location: location, maxSegmentBytes: 40 << 10)
        try commitRandomly(db, count: 8, generator: &generator)
        try await replicator.ship()

        let follower = ReplicaFollower(location: location, client: client, destination: dir.path("replica"))
        let first = try await follower.poll()
        XCTAssertEqual(first.version, 8)
        var options = DatabaseOptions()
        options.readOnly = true
        let reader = try openDatabase(path: dir.path("replica"), options: options)
        XCTAssertEqual(reader.latestVersion, 8)

        for round in 0 ..< 4 {
            try commitRandomly(db, count: 3 + round, generator: &generator)
            if round == 1 { try db.tag("mid", version: db.latestVersion) }
            try await replicator.ship()
            let report = try await follower.poll()
            XCTAssertEqual(report.version, db.latestVersion)
            XCTAssertEqual(reader.latestVersion, db.latestVersion, "the reader sees the followed version")
            XCTAssertEqual(try contents(of: reader, at: reader.latestVersion), try contents(of: db, at: db.latestVersion))
        }
        XCTAssertEqual(try reader.tags().map(\.name), ["mid"])

        try compactKeepingLast(db, 5)
        try commitRandomly(db, count: 2, generator: &generator)
        try await replicator.ship()
        let switched = try await follower.poll()
        XCTAssertEqual(switched.generation, 2)
        XCTAssertEqual(reader.latestVersion, db.latestVersion)
        XCTAssertEqual(try everyVersion(of: reader), try everyVersion(of: db))

        // Nothing new: a poll applies nothing.
        let idle = try await follower.poll()
        XCTAssertEqual(idle.segments, 0)
        await follower.close()

        // What an interrupted switch across several generations would leave goes when a
        // follower opens the replica again.
        let leftovers = ["data.5.tmp", "data.3", "index.3", "data", "index", "data.tmp"]
        for name in leftovers { _ = FileManager.default.createFile(atPath: dir.path("replica") + "/" + name, contents: Data([1])) }
        let again = ReplicaFollower(location: location, client: client, destination: dir.path("replica"))
        try await again.poll()
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path("replica"))
        XCTAssertEqual(Set(left).intersection(leftovers), [], "\(left)")
        XCTAssertTrue(left.contains("data.2"))
        await again.close()
        XCTAssertEqual(try everyVersion(of: reader), try everyVersion(of: db))
        try reader.close()
    }

    /// A replica written to while not followed no longer continues the bucket: following it
    /// again is refused (the bucket's next commits would be read over pages that differ).
    func testAReplicaWrittenToLocallyIsRefused() async throws {
        let (client, bucket) = try await motoClient()
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        var generator = SeededGenerator(seed: testSeed("FollowTests.diverged"))
        let location = ReplicaLocation(bucket: bucket, prefix: "f")
        try commitRandomly(db, count: 4, generator: &generator)
        try await Replicator(database: db, client: client, location: location).ship()
        let first = ReplicaFollower(location: location, client: client, destination: dir.path("replica"))
        try await first.poll()
        await first.close()
        let local = try openDatabase(path: dir.path("replica"))
        try put(local, "local", b("write"))
        try local.close()
        try commitRandomly(db, count: 2, generator: &generator)
        try await Replicator(database: db, client: client, location: location).ship()
        do {
            try await ReplicaFollower(location: location, client: client, destination: dir.path("replica")).poll()
            XCTFail("followed a replica that diverged")
        } catch let error as ReplicaError {
            guard case .diverged = error else { return XCTFail("\(error)") }
        }
    }
}
