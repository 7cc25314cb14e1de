import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage

/// Crashes and power cuts while commits are written into the reserve: at every step of a
/// durable workload, each image a crash can leave (the page cache, only what was synced, and
/// power cuts that keep a random subset of the unsynced writes in random order, one of them
/// torn) opens at every acknowledged commit or the one in flight, intact, and takes new commits.
extension ReserveTests {
    private static let commits = 14

    /// Runs the workload on `backend` until it ends or crashes: the commits acknowledged, and
    /// the data file's length after each.
    private static func runWorkload(_ backend: FaultInjectionStorage, path: String, seed: UInt64) -> (acknowledged: Int, lengths: [Int]) {
        var random = SeededGenerator(seed: seed)
        var acknowledged = 0
        var lengths: [Int] = []
        do {
            let db = try Database(path: path, options: DatabaseOptions(), backend: backend) // unchecked-open: crashes mid-way by design; every image is checked by the caller
            for i in 0 ..< commits {
                let size = Int.random(in: 1 ... 3 * 4096, using: &random)
                try db.write { txn in
                    try txn.put(b("k\(i)"), value(i, size: size))
                    try txn.put(b("shared"), b("\(i)"))
                }
                acknowledged += 1
                lengths.append(backend.contents(path + "/data")?.count ?? 0)
            }
            try db.close()
        } catch {}
        return (acknowledged, lengths)
    }

    private static func value(_ i: Int, size: Int) -> [UInt8] { (0 ..< size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) } }

    /// What is wrong with the database an image opens to, given `acknowledged` commits.
    private static func problems(in image: DiskImage, path: String, acknowledged: Int, seed: UInt64) -> [String] {
        var random = SeededGenerator(seed: seed)
        let sizes = (0 ..< commits).map { _ in Int.random(in: 1 ... 3 * 4096, using: &random) }
        do {
            let db = try Database(path: path, options: DatabaseOptions(), backend: FaultInjectionStorage(image: image)) // unchecked-open: checked right here
            defer { try? db.close() }
            let latest = Int(db.latestVersion)
            guard latest >= acknowledged else { return ["opened at version \(latest), below the \(acknowledged) acknowledged"] }
            guard latest <= acknowledged + 1 else { return ["opened at version \(latest), past the commit in flight"] }
            var found: [String] = []
            for version in 1 ... max(1, latest) where latest > 0 {
                try db.read(at: UInt64(version)) { txn in
                    if try txn.get(b("k\(version - 1)")) != value(version - 1, size: sizes[version - 1]) { found.append("version \(version): k\(version - 1) wrong") }
                    if try txn.get(b("shared")) != b("\(version - 1)") { found.append("version \(version): shared wrong") }
                    if try txn.get(b("k\(version)")) != nil { found.append("version \(version) holds the next commit's key") }
                }
            }
            let report = try db.checkReport(allVersions: true)
            found += report.problems.map { "check: \($0)" }
            try db.write { try $0.put(b("after"), b("crash")) }
            return found
        } catch {
            return ["\(error)"]
        }
    }

    func testCommitsInTheReserveSurviveEveryCrashAndPowerCut() throws {
        let seed = testSeed("reserve-crash-sweep")
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) // the lock file's
        let counter = FaultInjectionStorage(durableDirectories: [path])
        let clean = Self.runWorkload(counter, path: path, seed: seed)
        XCTAssertEqual(clean.acknowledged, Self.commits)
        let inReserve = zip(clean.lengths, clean.lengths.dropFirst()).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(inReserve, Self.commits / 2, "most commits are written into the reserve: \(clean.lengths)")
        let steps = counter.counts.steps
        var images = 0
        for point in 1 ... steps {
            let backend = FaultInjectionStorage(durableDirectories: [path])
            backend.crash(afterStep: point)
            let outcome = Self.runWorkload(backend, path: path, seed: seed)
            let kinds: [(String, FaultInjectionStorage.ImageKind)] = [
                ("process crash", .processCrash), ("durable only", .durableOnly),
                ("power cut", .powerCut(seed: seed &+ UInt64(point), tear: false)),
                ("torn power cut", .powerCut(seed: seed &* 31 &+ UInt64(point), tear: true)),
            ]
            for (label, kind) in kinds {
                images += 1
                let found = Self.problems(in: backend.image(kind), path: path, acknowledged: outcome.acknowledged, seed: seed)
                XCTAssertEqual(found, [], "COWDB_SEED=\(seed), crash after step \(point) of \(steps), \(label)")
            }
        }
        print("reserve-crash-sweep: seed \(seed), \(Self.commits) commits (\(inReserve) into the reserve), \(steps) crash points, \(images) images")
    }
}
