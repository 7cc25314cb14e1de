// Flipped bits and truncated files: detected at open or by check(), never silently dropping durable commits.

import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree
#if canImport(Glibc)
import Glibc
#endif

extension CrashTests {
    // MARK: Bit flips

    static func u32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0 ..< 4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    /// Three durable commits, then four with `.none` and a process crash; a flipped bit in a
    /// page of unsynced commit v makes the open stop at v - 1, every earlier version whole.
    func testBitFlipInUnsyncedTailIsDetectedAtOpen() throws {
        let seed = testSeed("crash-tail-flip")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let backend = FaultInjectionStorage()
        var models = [State()]
        var lengths: [UInt64] = []
        for durability in [DatabaseOptions.Durability.full, .none] {
            let db = try openDatabase(path: path, options: Self.options(durability), backend: backend)
            for _ in 0 ..< (durability == .full ? 3 : 4) {
                let mutations = someCommit(&random)
                try db.write { try Self.apply(mutations, to: $0) }
                var next = models.last!
                Self.apply(mutations, to: &next)
                models.append(next)
            }
            lengths = try db.versions().map(\.fileLength)
            if durability == .full { try db.close() }
        }
        // The `.none` database was never closed: its commits are in the page cache only.
        let crashed = backend.image(.processCrash)
        XCTAssertEqual(lengths.count, 7)
        var tried = 0
        for victim in 4 ... 7 {
            let first = Int(lengths[victim - 2]), end = Int(lengths[victim - 1])
            for offset in [first, end - 1] + (0 ..< 4).map({ _ in Int.random(in: first ..< end, using: &random) }) {
                var image = crashed
                image.flipBit(path + "/data", offset: offset, bit: Int.random(in: 0 ..< 8, using: &random))
                let db = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image))
                XCTAssertEqual(db.latestVersion, UInt64(victim - 1), "flip at byte \(offset) (page \(offset / 4096)) of version \(victim)")
                XCTAssertEqual(try db.versions().map(\.version), Array(1 ... UInt64(victim - 1)))
                assertReads(db, Array(models.prefix(victim)))
                try db.checkAndClose()
                tried += 1
            }
        }
        // Undamaged, the whole tail is kept.
        let db = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: crashed))
        XCTAssertEqual(db.latestVersion, 7)
        assertReads(db, models)
        try db.checkAndClose()
        print("crash-tail-flip: \(tried) flipped images")
    }

    /// A flipped bit in any page below the latest commit record is reported by `check()` with
    /// that page's number, and a verified read never returns wrong data.
    func testBitFlipAnywhereIsReportedByCheck() throws {
        let seed = testSeed("crash-flip-anywhere")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let backend = FaultInjectionStorage()
        var models = [State()]
        let db = try Database(path: path, options: Self.options(.full), backend: backend) // unchecked-open: the test flips bits in it
        // Each key is written once per commit, so every page is reachable from its version.
        for c in 0 ..< 6 {
            var mutations: [Mutation] = c == 2 ? [.create(space: "alpha")] : []
            var keys = Set<String>()
            for i in 0 ..< 40 {
                let key = "key-\(Int.random(in: 0 ..< 200, using: &random))"
                guard keys.insert(key).inserted else { continue }
                let space = c >= 2 && i % 3 == 0 ? "alpha" : ""
                mutations.append(.put(space: space, key: b(key), value: random.bytes(i % 9 == 0 ? 5_000 : 90)))
            }
            try commitRecording(mutations, to: db, &models)
        }
        let latestCommitPage = (try db.versions().last!.fileLength) / 4096 - 1
        try db.close()
        // The files as the closed database left them (index included: the index is never
        // synced, so a power-cut image would have none and recovery would scan everything).
        let clean = backend.image(.processCrash)
        var verifying = Self.options(.full)
        verifying.verifyOnRead = true

        var flips = 0
        for page in 1 ..< Int(latestCommitPage) {
            try checkFlippedPage(page, of: clean, path: path, options: verifying, models: models, random: &random)
            flips += 1
        }

        // Index records: a flipped record is rebuilt from the data file.
        let indexLength = clean.files[path + "/index"]!.count
        for record in 0 ..< indexLength / IndexRecord.size {
            var image = clean
            image.flipBit(path + "/index", offset: record * IndexRecord.size + Int.random(in: 0 ..< IndexRecord.size, using: &random), bit: Int.random(in: 0 ..< 8, using: &random))
            let reopened = try openDatabase(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image))
            XCTAssertEqual(reopened.latestVersion, 6)
            assertReads(reopened, models)
            try reopened.checkAndClose()
            flips += 1
        }

        // A bit flipped under an open database (damage on the medium): check() finds it.
        let live = FaultInjectionStorage(image: clean)
        let open = try Database(path: path, options: Self.options(.full), backend: live) // unchecked-open: a bit is flipped under it
        XCTAssertTrue(try open.checkReport(allVersions: true).isClean)
        let victim = Int(latestCommitPage) - 1
        live.flipBit(path + "/data", offset: victim * 4096 + 2_000, bit: 5)
        let report = try open.checkReport(allVersions: true)
        XCTAssertTrue(report.problems.contains { $0.page == UInt64(victim) || $0.message.contains("page \(victim):") }, "\(report.problems.prefix(3))")
        try open.close()
        print("crash-flip-anywhere: \(flips) flipped images")
    }

    /// Flips a random bit of `page` in a copy of `clean`: check() must report it, naming the page
    /// (or the first page of its run, or the page in its message), and verified reads of every
    /// version give the right data or an error.
    private func checkFlippedPage(_ page: Int, of clean: DiskImage, path: String, options verifying: DatabaseOptions,
                                  models: [State], random: inout SeededGenerator) throws {
        let offset = page * 4096 + Int.random(in: 0 ..< 4096, using: &random)
        var image = clean
        image.flipBit(path + "/data", offset: offset, bit: Int.random(in: 0 ..< 8, using: &random))
        let damaged = try Database(path: path, options: verifying, backend: FaultInjectionStorage(image: image)) // unchecked-open: a copy with a flipped bit
        XCTAssertEqual(damaged.latestVersion, 6, "damage below the last commit is not the tail")
        let report = try damaged.checkReport(allVersions: true)
        XCTAssertFalse(report.isClean, "flip at page \(page) offset \(offset % 4096)")
        // Named by the page, or by the first page of the run holding it (an overflow run
        // has one checksum); a damaged commit record is named in the message.
        let named = report.problems.contains { problem in
            if let first = problem.page, first <= UInt64(page) {
                let runLength = UInt64(Self.u32(clean.files[path + "/data"]!, at: Int(first) * 4096 + PageHeader.runLengthOffset))
                if UInt64(page) < first + max(runLength, 1) { return true }
            }
            return problem.message.contains("page \(page):")
        }
        XCTAssertTrue(named, "page \(page) named: \(report.problems.prefix(3))")
        // Verified reads: the right data or an error, never wrong data.
        for version in 1 ... UInt64(6) {
            if let state = try? damaged.read(at: version, { try Self.readState($0).0 }) {
                XCTAssertEqual(state, models[Int(version)], "version \(version) with page \(page) damaged")
            }
        }
        try damaged.close()
    }

    /// A commit that was durable (its fdatasync returned) is never dropped without an error
    /// because of damage: with the index intact and the latest commit record damaged, and
    /// after a power cut (the index is never synced, so the disk has none) with an old page
    /// damaged, the open must either fail with `corrupt` or keep every version. Dropping the
    /// damaged commit and everything after it, and truncating the file, loses committed data.
    func testDamageNeverSilentlyDropsDurableCommits() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let backend = FaultInjectionStorage()
        let db = try openDatabase(path: path, options: Self.options(.full), backend: backend)
        for i in 0 ..< 6 { try db.write { try $0.put(b("k\(i)"), b("v\(i)")) } }
        let lengths = try db.versions().map { Int($0.fileLength) }
        try db.close()
        let cases: [(String, DiskImage, Int)] = [
            ("the latest commit record, index intact", backend.image(.processCrash), lengths[5] - 4096 + 100),
            ("a leaf of version 2, after a power cut", backend.image(.durableOnly), lengths[1] - 2 * 4096 + 100),
        ]
        for (label, clean, offset) in cases {
            var image = clean
            image.flipBit(path + "/data", offset: offset, bit: 3)
            do {
                let damaged = try Database(path: path, options: Self.options(.full), backend: FaultInjectionStorage(image: image)) // unchecked-open: a copy with a flipped bit
                XCTAssertEqual(damaged.latestVersion, 6, "\(label): durable versions were dropped without an error")
                try damaged.close()
            } catch let error as CowDBError {
                guard case .corrupt = error else { return XCTFail("\(label): \(error)") }
            }
        }
    }

    /// A data file cut inside its first page (the header survives, the page does not) is not a
    /// database: the open throws, it does not trap. The open runs in a child process (this
    /// test binary, running `testTruncatedHeaderPageChild`), so a trap fails this test only.
    func testTruncatedHeaderPageThrows() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try Database(path: path).close() // unchecked-open: the test truncates its header page
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path + "/data"))
        try handle.truncate(atOffset: 2_000)
        try handle.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["CowDBTests.CrashTests/testTruncatedHeaderPageChild"]
        process.environment = ProcessInfo.processInfo.environment.merging(["COWDB_CHILD_OPEN": path]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // It once trapped: arithmetic overflow in Recovery.run (`filePages - 1` with filePages == 0).
        // The child says what happened on standard output (its exit status is not used: a leak
        // checker at exit may change it).
        XCTAssertEqual(process.terminationReason, .exit, "opening a data file shorter than one page trapped (signal \(process.terminationStatus))")
        XCTAssertTrue(said.contains("COWDB-CHILD: threw"), "opening a data file shorter than one page did not throw: \(said)")
    }

    /// The child of `testTruncatedHeaderPageThrows` (does nothing unless run by it).
    func testTruncatedHeaderPageChild() throws {
        guard let path = ProcessInfo.processInfo.environment["COWDB_CHILD_OPEN"] else { return }
        do {
            _ = try openDatabase(path: path)
            FileHandle.standardOutput.write(Data("COWDB-CHILD: opened\n".utf8))
            exit(1)
        } catch {
            FileHandle.standardOutput.write(Data("COWDB-CHILD: threw \(error)\n".utf8))
            exit(0)
        }
    }
}
