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
        try reader.close()
    }
}
