import CowDB
@testable import CowDBReplication
import CowDBStorage
import CowDBTestHarness
import CowDBTestSupport
import XCTest

/// `cowdb replicate`, `restore` and `follow` as processes against moto_server.
final class ReplicationCommandTests: XCTestCase {
    /// replicate --once, restore by version, time and tag, and the one-line errors.
    func testReplicateOnceRestoreAndErrors() async throws {
        let server = try await MotoServer.shared()
        let (client, bucket) = (try server.client(), try await server.freshBucket())
        let endpoint = server.endpoint
        let dir = TemporaryDirectory()
        let source = dir.path("source")
        let db = try openDatabase(path: source)
        var generator = SeededGenerator(seed: testSeed("ReplicationCommandTests.once"))
        try commitRandomly(db, count: 12, generator: &generator)
        try db.tag("v5", version: 5)
        let url = "s3://\(bucket)/cli"

        let shipped = try CowDBProcess.run(["replicate", source, url, "--once"], endpoint: endpoint)
        XCTAssertEqual(shipped.status, 0, shipped.errors)
        XCTAssertTrue(shipped.output.hasPrefix("shipped version 12 (generation 1) to \(url): 1 segments, "), shipped.output)
        let restored = try CowDBProcess.run(["restore", url, dir.path("r7"), "--version", "7"], endpoint: endpoint)
        XCTAssertEqual(restored.status, 0, restored.errors)
        XCTAssertTrue(restored.output.hasPrefix("restored version 7 (generation 1) into \(dir.path("r7")): 1 segments, "), restored.output)
        let byTag = try CowDBProcess.run(["restore", url, dir.path("r5"), "--tag", "v5"], endpoint: endpoint)
        XCTAssertEqual(byTag.status, 0, byTag.errors)
        // The time `versions` prints for version 9 restores exactly version 9.
        let printed = try CowDBProcess.run(["versions", source, "--json"], endpoint: endpoint)
        let rows = try JSONSerialization.jsonObject(with: Data(printed.output.utf8)) as? [[String: Any]] ?? []
        let asOf = try XCTUnwrap(rows.first { $0["version"] as? Int == 9 }?["timestamp"] as? String)
        let byTime = try CowDBProcess.run(["restore", url, dir.path("rt"), "--as-of", asOf], endpoint: endpoint)
        XCTAssertEqual(byTime.status, 0, byTime.errors)
        for (path, version) in [("r7", UInt64(7)), ("r5", 5), ("rt", 9)] {
            let copy = try openDatabase(path: dir.path(path))
            XCTAssertEqual(copy.latestVersion, version)
            XCTAssertEqual(try contents(of: copy, at: version), try contents(of: db, at: version))
            try copy.close()
        }

        // Errors: one line each, with the exit code of their kind.
        let segment = try await client.listObjects(bucket: bucket, prefix: "cli/generations/").first!.key
        var bytes = try await client.getObject(bucket: bucket, key: segment)
        bytes[bytes.count - 100] ^= 1
        try await client.putObject(bucket: bucket, key: segment, body: bytes)
        let failures: [([String], Int32, String)] = [
            (["restore", url, dir.path("bad")], 2, "cowdb: error: replica object \(segment) is damaged: "),
            (["restore", "s3://\(bucket)/none", dir.path("x")], 1, "cowdb: error: s3://\(bucket)/none holds no replica of this database: no none/manifest.json"),
            (["restore", "s3://missing-bucket/p", dir.path("x")], 1, "cowdb: error: s3 GET p/manifest.json: 404 NoSuchBucket"),
            (["restore", "http://x/y", dir.path("x")], 1, "cowdb: error: bad replica location 'http://x/y'"),
            (["restore", url, dir.path("x"), "--endpoint", "ftp://h"], 1, "cowdb: error: s3: bad endpoint URL 'ftp://h'"),
            (["restore", url, dir.path("x"), "--version", "3", "--tag", "v5"], 64, "cowdb: error: give at most one of --version, --as-of and --tag"),
            (["replicate", dir.path("nothing"), url, "--once"], 1, "cowdb: error: no such database: "),
        ]
        for (arguments, status, prefix) in failures {
            let result = try CowDBProcess.run(arguments, endpoint: endpoint)
            XCTAssertEqual(result.status, status, "\(arguments): \(result.errors)")
            XCTAssertTrue(result.errors.hasPrefix(prefix), "\(arguments): \(result.errors)")
            if status != 64 { // a usage error is followed by the usage text
                XCTAssertEqual(result.errors.filter { $0 == "\n" }.count, 1, "\(arguments): \(result.errors)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path("bad")))
    }

    /// `cowdb replicate` without `--once` ships each commit as it lands and stops with exit
    /// status 0 on SIGINT.
    func testReplicateShipsAsCommitsLandAndStopsOnSIGINT() async throws {
        let server = try await MotoServer.shared()
        let bucket = try await server.freshBucket()
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        try put(db, "a", b("1"))
        let url = "s3://\(bucket)/live"
        let child = try CowDBProcess(["replicate", dir.path("source"), url], endpoint: server.endpoint)
        defer { child.kill(SIGKILL) }
        try await waitUntil { child.outputText.contains("shipped version 1 ") }
        try put(db, "b", b("2"))
        try await waitUntil { child.outputText.contains("shipped version 2 ") }
        child.kill(SIGINT)
        XCTAssertEqual(child.process.terminationReason, .exit)
        XCTAssertEqual(child.process.terminationStatus, 0, child.errorText)
        XCTAssertEqual(child.errorText, "")
    }

    /// `cowdb replicate` runs beside a writer and is killed with SIGKILL at seeded moments, a
    /// compaction happening meanwhile; restarted each time, it leaves a replica whose segments
    /// cover each generation exactly once (no gap, no overlap, nothing past the manifest) and
    /// whose restore equals the source.
    func testReplicatorKilledAtRandomMomentsLeavesNoGapsOrDuplicates() async throws {
        let server = try await MotoServer.shared()
        let (client, bucket) = (try server.client(), try await server.freshBucket())
        let dir = TemporaryDirectory()
        let source = dir.path("source")
        let db = try openDatabase(path: source)
        let seed = testSeed("ReplicationCommandTests.kill")
        var generator = SeededGenerator(seed: seed)
        let location = ReplicaLocation(bucket: bucket, prefix: "killed")
        try commitRandomly(db, count: 5, generator: &generator)
        let writer = BackgroundWriter(db, seed: seed)
        for round in 0 ..< 8 {
            let child = try CowDBProcess(["replicate", source, location.description, "--interval", "0.05"], endpoint: server.endpoint)
            usleep(UInt32(100_000 + generator.next() % 400_000))
            child.kill(SIGKILL)
            if round == 4 { try compactKeepingLast(db, 20) }
        }
        writer.stop()
        let last = try CowDBProcess.run(["replicate", source, location.description, "--once"], endpoint: server.endpoint)
        XCTAssertEqual(last.status, 0, last.errors)

        let manifest = try ReplicaManifest.decode(try await client.getObject(bucket: bucket, key: location.manifestKey), key: "manifest")
        XCTAssertEqual(manifest.generations.map(\.generation), [1, 2])
        XCTAssertEqual(manifest.generations.last!.end, try db.shippingView().end)
        for entry in manifest.generations {
            let objects = try await client.listObjects(bucket: bucket, prefix: location.segmentsFolder(entry.generation))
            let ranges = objects.compactMap { location.segmentRange(ofKey: $0.key, generation: entry.generation) }.sorted { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(ranges.count, objects.count)
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound, "gap or overlap in generation \(entry.generation)") }
            XCTAssertEqual(ranges.last?.upperBound, entry.end, "segments end where the manifest says")
        }
        _ = try await ReplicaRestore.restore(from: location, client: client, to: dir.path("restored"))
        let restored = try openDatabase(path: dir.path("restored"))
        XCTAssertEqual(try everyVersion(of: restored), try everyVersion(of: db))
        try restored.close()
    }

    /// `cowdb follow` keeps a replica current for a reader in this process (another process
    /// than the follower), and ends cleanly on SIGTERM.
    func testFollowCommandServesReadersInAnotherProcess() async throws {
        let server = try await MotoServer.shared()
        let (client, bucket) = (try server.client(), try await server.freshBucket())
        let dir = TemporaryDirectory()
        let db = try openDatabase(path: dir.path("source"))
        var generator = SeededGenerator(seed: testSeed("ReplicationCommandTests.follow"))
        let location = ReplicaLocation(bucket: bucket, prefix: "follow")
        let replicator = Replicator(database: db, client: client, location: location)
        try commitRandomly(db, count: 4, generator: &generator)
        try await replicator.ship()
        let follower = try CowDBProcess(["follow", location.description, dir.path("replica"), "--interval", "0.1"], endpoint: server.endpoint)
        defer { follower.kill(SIGKILL) }
        try await waitUntil { FileManager.default.fileExists(atPath: dir.path("replica") + "/data") }
        var options = DatabaseOptions()
        options.readOnly = true
        let reader = try openDatabase(path: dir.path("replica"), options: options)
        for _ in 0 ..< 3 {
            try commitRandomly(db, count: 3, generator: &generator)
            try await replicator.ship()
            let target = db.latestVersion
            try await waitUntil { reader.latestVersion == target }
            XCTAssertEqual(try contents(of: reader, at: target), try contents(of: db, at: target))
        }
        // The replica is published before the poll's line is printed (the tags come between).
        let line = "replica at version \(db.latestVersion) (generation 1)"
        try await waitUntil { follower.outputText.contains(line) }
        follower.kill(SIGTERM)
        XCTAssertEqual(follower.process.terminationReason, .exit)
        XCTAssertEqual(follower.process.terminationStatus, 0, follower.errorText)
        try reader.close()
    }
}

/// Polls `condition` every 20 ms for up to 20 s; fails the test when it never holds.
func waitUntil(_ condition: () throws -> Bool, file: StaticString = #filePath, line: UInt = #line) async throws {
    for _ in 0 ..< 1000 {
        if try condition() { return }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    XCTFail("condition never held", file: file, line: line)
}

/// Commits on a thread of its own (one small commit every 2–10 ms) until stopped.
final class BackgroundWriter: @unchecked Sendable {  // `stopping` is atomic; the thread owns the rest.
    private let stopping = Locked(false)
    private let done = DispatchSemaphore(value: 0)

    init(_ db: Database, seed: UInt64) {
        let thread = Thread { [stopping, done] in
            var generator = SeededGenerator(seed: seed ^ 0x5EED)
            while !stopping.withLock({ $0 }) {
                try? commitRandomly(db, count: 1, generator: &generator)
                usleep(UInt32(2_000 + generator.next() % 8_000))
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops the writer and waits for its last commit.
    func stop() {
        stopping.withLock { $0 = true }
        done.wait()
    }
}
