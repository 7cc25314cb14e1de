import CowDB
@testable import CowDBReplication
import CowDBTestHarness
import CowDBTestSupport
import XCTest

/// `cowdb follow` killed with SIGKILL at seeded moments while commits keep arriving: the replica
/// always opens, a reader that keeps it open only ever sees whole versions equal to the
/// source's, and a restarted follower carries on to the end.
final class FollowCrashTests: XCTestCase {
    func testFollowerKilledAtRandomMomentsLeavesAReadableReplica() async throws {
        let server = try await MotoServer.shared()
        let (client, bucket) = (try server.client(), try await server.freshBucket())
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        let seed = testSeed("FollowCrashTests.kill")
        var generator = SeededGenerator(seed: seed)
        try commitRandomly(db, count: 5, generator: &generator)
        let location = ReplicaLocation(bucket: bucket, prefix: "crash")
        let replicator = Replicator(database: db, client: client, location: location, maxSegmentBytes: 24 << 10)
        try await replicator.ship()
        let shipping = Task { try await replicator.run(interval: .milliseconds(20)) }
        let writer = BackgroundWriter(db, seed: seed)
        let replica = dir.path("replica")
        var reader: Database?
        var seen: UInt64 = 0
        for _ in 0 ..< 6 {
            let child = try CowDBProcess(["follow", location.description, replica, "--interval", "0.03"], endpoint: server.endpoint)
            usleep(UInt32(150_000 + generator.next() % 350_000))
            child.kill(SIGKILL)
            guard FileManager.default.fileExists(atPath: replica + "/data") else { continue }
            if reader == nil {
                var options = DatabaseOptions()
                options.readOnly = true
                reader = try openDatabase(path: replica, options: options)
            }
            let version = reader!.latestVersion
            XCTAssertGreaterThanOrEqual(version, seen, "the reader went back")
            seen = version
            XCTAssertEqual(try contents(of: reader!, at: version), try contents(of: db, at: version), "version \(version)")
        }
        writer.stop()
        shipping.cancel()
        try await shipping.value
        try await replicator.ship()
        let last = try CowDBProcess.run(["follow", location.description, replica, "--once"], endpoint: server.endpoint)
        XCTAssertEqual(last.status, 0, last.errors)
        let reopened = try openDatabase(path: replica)
        XCTAssertEqual(try everyVersion(of: reopened), try everyVersion(of: db))
        try reopened.close()
        try reader?.close()
    }
}
