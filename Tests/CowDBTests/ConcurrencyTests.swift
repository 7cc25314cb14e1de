import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Readers on many threads, snapshots across commits, writers waiting their turn, and other
/// processes: a read-only process sees new commits; a second writer process is locked out.
final class ConcurrencyTests: XCTestCase {
    /// Every commit stamps all keys with its version; a reader must see one stamp throughout.
    func testReadersSeeOneStableVersionWhileWriterCommits() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("mvcc"), options: options)
        let keys = (0 ..< 64).map { b("key\($0)") }
        try db.write { txn in for key in keys { try txn.put(key, b("0")) } }
        let early = try db.snapshot()
        let failures = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let readsDone = Atomic<Int>(0)
        let readers = (0 ..< 4).map { reader in
            Thread {
                var random = SeededGenerator(seed: UInt64(reader + 1))
                while !stop.load(ordering: .relaxed) {
                    do {
                        try db.read { txn in
                            let stamp = try txn.get(b("key0"))
                            for _ in 0 ..< 20 {
                                let key = keys.randomElement(using: &random)!
                                if try txn.get(key) != stamp { failures.withLock { $0.append("version \(txn.version): \(key) changed under a reader") } }
                            }
                            if stamp != b("\(txn.version - 1)") { failures.withLock { $0.append("version \(txn.version) has stamp \(String(decoding: stamp ?? [], as: UTF8.self))") } }
                        }
                        readsDone.add(1, ordering: .relaxed)
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        readers.forEach { $0.start() }
        for version in 1 ... 300 {
            try db.write { txn in for key in keys { try txn.put(key, b("\(version)")) } }
        }
        stop.store(true, ordering: .relaxed)
        while readers.contains(where: { !$0.isFinished }) { usleep(1000) }
        XCTAssertEqual(failures.withLock { $0 }, [])
        XCTAssertGreaterThan(readsDone.load(ordering: .relaxed), 0)
        // The snapshot taken before all that still reads its version.
        XCTAssertEqual(try early.get(b("key5")), b("0"))
        XCTAssertEqual(early.version, 1)
        early.close()
        try db.checkAndClose(allVersions: false)
    }

    /// Writers on several threads serialize: no increment is lost.
    func testConcurrentWritersWaitTheirTurn() throws {
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("writers"), options: options)
        let threads = (0 ..< 4).map { _ in
            Thread {
                for _ in 0 ..< 50 {
                    try? db.write { txn in
                        let current = Int(String(decoding: try txn.get(b("counter")) ?? b("0"), as: UTF8.self))!
                        try txn.put(b("counter"), b("\(current + 1)"))
                    }
                }
            }
        }
        threads.forEach { $0.start() }
        while threads.contains(where: { !$0.isFinished }) { usleep(1000) }
        XCTAssertEqual(try db.read { try $0.get(b("counter")) }, b("200"))
        XCTAssertEqual(db.latestVersion, 200)
        try db.checkAndClose()
    }

    // MARK: Processes

    /// The helper executable built beside the tests, started with `arguments`; a `seed` (for
    /// the helper's random draws) goes to it in `COWDB_SEED`, and it prints it. Its standard
    /// error goes to `errors` when given. Swift's crash backtracer is off in the helper: the
    /// process it forks can hang under the Thread Sanitizer, holding the pipes open.
    func helper(_ arguments: [String], seed: UInt64? = nil, errors: Pipe? = nil) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cowdb-test-helper")
        if !FileManager.default.fileExists(atPath: process.executableURL!.path) {
            // `swift test` runs the bundle from .build/<triple>/debug; the helper sits beside it.
            process.executableURL = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("cowdb-test-helper")
        }
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["COWDB_SEED"] = seed.map { String($0) }
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        if let errors { process.standardError = errors }
        try process.run()
        return (process, pipe)
    }

    /// Reads one line from a pipe.
    func readLine(_ pipe: Pipe) -> String {
        var bytes: [UInt8] = []
        while true {
            let chunk = pipe.fileHandleForReading.readData(ofLength: 1)
            if chunk.isEmpty || chunk.first == 10 { break }
            bytes.append(chunk.first!)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func testSecondWriterProcessIsLockedThenWaits() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("procs")
        try openDatabase(path: path).close()
        let (holder, pipe) = try helper(["hold", path, "1.0"])
        XCTAssertEqual(readLine(pipe), "ready")
        XCTAssertThrowsError(try openDatabase(path: path)) { XCTAssertEqual($0 as? CowDBError, .locked(path: path + "/lock")) }
        var options = DatabaseOptions()
        options.lockTimeout = 10
        let db = try openDatabase(path: path, options: options) // waits for the holder to close
        holder.waitUntilExit()
        XCTAssertEqual(holder.terminationStatus, 0)
        try db.checkAndClose()
    }

    func testReadOnlyProcessSeesNewCommits() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("watched")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        try db.write { try $0.put(b("n"), b("0")) }
        let (watcher, pipe) = try helper(["watch", path, "41", "20"])
        XCTAssertEqual(readLine(pipe), "ready")
        for i in 1 ... 40 {
            try db.write { try $0.put(b("n"), b("\(i)")) }
            usleep(2000)
        }
        let line = readLine(pipe)
        watcher.waitUntilExit()
        XCTAssertEqual(watcher.terminationStatus, 0)
        XCTAssertTrue(line.hasPrefix("version 41 n=40"), line)
        try db.checkAndClose()
    }

    func testWriterProcessKilledMidCommitsLosesNothingAcknowledged() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("killed")
        let (writer, pipe) = try helper(["write", path, "100000"])
        var acknowledged: UInt64 = 0
        for _ in 0 ..< 30 {
            let line = readLine(pipe)
            if let version = UInt64(line.split(separator: " ").last ?? "") { acknowledged = version }
        }
        kill(writer.processIdentifier, SIGKILL)
        writer.waitUntilExit()
        let db = try openDatabase(path: path)
        XCTAssertGreaterThanOrEqual(db.latestVersion, acknowledged)
        XCTAssertEqual(try db.read { try $0.get(b("n")) }, b("\(db.latestVersion)"))
        try db.checkAndClose()
    }
    /// A compaction while read-only processes read: they move to the new generation and never
    /// see a wrong version; commits before and after it are all there.
    func testCompactionWhileReadOnlyProcessesRead() throws {
        let seed = testSeed("testCompactionWhileReadOnlyProcessesRead")
        let directory = TemporaryDirectory()
        let path = directory.path("compacted")
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: path, options: options)
        for i in 1 ... 150 {
            try db.write { txn in
                try txn.put(b("n"), b("\(i)"))
                try txn.put(b("pad\(i % 40)"), [UInt8](repeating: UInt8(i & 0xFF), count: i % 9 == 0 ? 6_000 : 300))
            }
        }
        let stopFile = directory.path("stop")
        let readers = try (0 ..< 2).map { try helper(["verify", path, "600", stopFile], seed: seed &+ UInt64($0)) }
        for (_, pipe) in readers { XCTAssertEqual(readLine(pipe), "ready") }
        usleep(50_000)
        let report = try db.compact(keeping: RetentionPolicy(keepLast: 10, keepTags: false))
        XCTAssertEqual(report.versionsKept, 10)
        for i in 151 ... 200 { try db.write { try $0.put(b("n"), b("\(i)")) } }
        usleep(50_000)
        XCTAssertTrue(FileManager.default.createFile(atPath: stopFile, contents: nil))
        for (reader, pipe) in readers {
            let said = readLine(pipe)
            reader.waitUntilExit()
            XCTAssertEqual(reader.terminationStatus, 0, "a read-only process failed: \(said)")
            XCTAssertTrue(said.hasPrefix("ok "), said)
        }
        XCTAssertEqual(try db.versions().map(\.version), Array(141 ... 200))
        try db.checkAndClose()
    }

    /// Writers killed with SIGKILL at random moments, again and again, while two read-only
    /// processes read throughout: every restart opens without repair (the kernel released the
    /// lock) at or past the last acknowledged commit, and the readers never see a torn version.
    func testWritersKilledAtRandomTimesWhileReadOnlyProcessesRead() throws {
        let seed = testSeed("testWritersKilledAtRandomTimesWhileReadOnlyProcessesRead")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("killed-often")
        try openDatabase(path: path).close()
        let stopFile = directory.path("stop")
        let readers = try (0 ..< 2).map { try helper(["verify", path, "600", stopFile], seed: seed &+ UInt64($0)) }
        for (_, pipe) in readers { XCTAssertEqual(readLine(pipe), "ready") }
        var acknowledged: UInt64 = 0
        let kills = 25
        for round in 0 ..< kills {
            let (writer, pipe) = try helper(["write", path, "1000000"])
            // Kill after a random number of acknowledged commits, or at a random instant.
            if Bool.random(using: &random) {
                for _ in 0 ..< Int.random(in: 1 ... 20, using: &random) {
                    if let version = UInt64(readLine(pipe).split(separator: " ").last ?? "") { acknowledged = max(acknowledged, version) }
                }
            } else {
                usleep(UInt32.random(in: 0 ... 60_000, using: &random))
            }
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            // Whatever it printed before dying was acknowledged too.
            let rest = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            for line in rest.split(separator: "\n") {
                if let version = UInt64(line.split(separator: " ").last ?? "") { acknowledged = max(acknowledged, version) }
            }
            let db = try openDatabase(path: path) // no manual repair: the lock went with the process
            XCTAssertGreaterThanOrEqual(db.latestVersion, acknowledged, "round \(round)")
            XCTAssertEqual(try db.read { try $0.get(b("n")) }, db.latestVersion == 0 ? nil : b("\(db.latestVersion)"), "round \(round)")
            try db.close()
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: stopFile, contents: nil))
        var reads: [String] = []
        for (reader, pipe) in readers {
            reads.append(readLine(pipe))
            reader.waitUntilExit()
            XCTAssertEqual(reader.terminationStatus, 0, "a read-only process failed its check")
            XCTAssertTrue(reads.last!.hasPrefix("ok "), reads.last!)
        }
        let db = try openDatabase(path: path)
        XCTAssertGreaterThanOrEqual(db.latestVersion, acknowledged)
        print("killed \(kills) writers; \(acknowledged) commits acknowledged, \(db.latestVersion) versions on reopen; readers: \(reads)")
        try db.checkAndClose()
    }
}

import Synchronization
