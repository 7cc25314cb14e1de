// Power cuts that lose a history: its index records and torn commit records must not return.

import Foundation
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

extension CrashTests {
    // MARK: Index records of a lost history

    /// A power cut loses a `.none` process's commits but not all of their index records; the
    /// next process recovers to version 0, drops those records (truncating the index) and
    /// commits other versions 1 and 2. Whatever part of that reaches the disk before a second
    /// power cut (a crash after each of its steps, several power-cut images each), an old
    /// record must not come back: recovery trusts the records before a synced one unread.
    func testIndexRecordsOfALostHistoryNeverReturn() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let image = try lostHistoryImage(path: path)

        // The second process: a small version 1 (its commit record before the lost one's) and
        // a larger version 2 (its commit record after it).
        let commits: [[Mutation]] = [
            [.put(space: "", key: b("new-1"), value: b("one"))],
            (0 ..< 4).map { .put(space: "", key: b("new-2-\($0)"), value: [UInt8](repeating: 7, count: 9_000)) },
        ]
        var models = [State()]
        for mutations in commits {
            var next = models.last!
            Self.apply(mutations, to: &next)
            models.append(next)
        }
        /// Runs the second process on `backend` until it ends or the backend crashes.
        func secondProcess(_ backend: FaultInjectionStorage, _ durability: DatabaseOptions.Durability) {
            do {
                let db = try openDatabase(path: path, options: Self.options(durability), backend: backend)
                XCTAssertEqual(db.latestVersion, 0, "the torn first page leaves no version")
                for mutations in commits { try db.write { try Self.apply(mutations, to: $0) } }
                try db.close()
            } catch {}
        }

        let machines = try machinesForTheSecondProcess(image, path: path)

        var images = 0
        for (machineLabel, machine) in machines {
            for durability in [DatabaseOptions.Durability.none, .full] {
                let counter = machine()
                secondProcess(counter, durability)
                for step in 1 ... counter.counts.steps {
                    let backend = machine()
                    backend.crash(afterStep: step)
                    secondProcess(backend, durability)
                    images += checkPowerCuts(of: backend, path: path, durability: durability, models: models,
                                             context: "\(durability)\(machineLabel), crash after step \(step)")
                }
            }
        }
        print("lost-history index: \(images) power-cut images")
    }

    /// The disk a first process leaves after a power cut: three `.none` commits of two 9,000-byte
    /// values each, every write kept but the first page torn, so no commit survives; three index records.
    private func lostHistoryImage(path: String) throws -> DiskImage {
        let first = FaultInjectionStorage()
        let lost = try openDatabase(path: path, options: Self.options(.none), backend: first)
        for c in 0 ..< 3 {
            try lost.write { txn in for i in 0 ..< 2 { try txn.put(b("lost-\(c)-\(i)"), [UInt8](repeating: UInt8(c), count: 9_000)) } }
        }
        // The power cut keeps every write but a torn first page: no commit survives it.
        var image = first.image(.processCrash)
        try lost.close()
        image.flipBit(path + "/data", offset: 4096 + 100, bit: 0)
        XCTAssertEqual(image.files[path + "/index"]?.count, 3 * IndexRecord.size)
        return image
    }

    /// The machines the second process may start on: the disk after the power cut (`powerCut`),
    /// or the machine after an earlier process died during its open (its truncation of the
    /// index in the page cache only), each with a label.
    private func machinesForTheSecondProcess(_ powerCut: DiskImage, path: String) throws -> [(String, () -> FaultInjectionStorage)] {
        var machines: [(String, () -> FaultInjectionStorage)] = [("", { FaultInjectionStorage(image: powerCut) })]
        let opening = FaultInjectionStorage(image: powerCut)
        try openDatabase(path: path, options: Self.options(.none), backend: opening).close()
        for k in 1 ... opening.counts.steps - 2 { // the close syncs the index and the directory
            let died = FaultInjectionStorage(image: powerCut)
            died.crash(afterStep: k)
            _ = try? openDatabase(path: path, options: Self.options(.none), backend: died)
            machines.append((", after a process died at step \(k) of its open", { died.restartedAfterProcessCrash() }))
        }
        return machines
    }

    /// Opens 48 power-cut images of `backend` and checks that every version up to 2 reads as
    /// `models` has it; returns how many images it checked.
    private func checkPowerCuts(of backend: FaultInjectionStorage, path: String, durability: DatabaseOptions.Durability,
                                models: [State], context: String) -> Int {
        var images = 0
        for seed in 0 ..< UInt64(48) {
            images += 1
            let label = "\(context), power cut \(seed)"
            do {
                let disk = FaultInjectionStorage(image: backend.image(.powerCut(seed: seed, tear: false)))
                let db = try openDatabase(path: path, options: Self.options(durability), backend: disk)
                defer { try? db.close() }
                XCTAssertLessThanOrEqual(db.latestVersion, 2, label)
                for version in 0 ... min(db.latestVersion, 2) {
                    do {
                        let state = try db.read(at: version) { try Self.readState($0).0 }
                        XCTAssertEqual(state, models[Int(version)], "\(label): version \(version) reads back wrong: \(Self.difference(state, models[Int(version)]))")
                    } catch {
                        XCTFail("\(label): version \(version) unreadable: \(error)")
                    }
                }
            } catch {
                XCTFail("\(label): the open fails: \(error)")
            }
        }
        return images
    }

    /// A power cut tears a `.none` commit record at a sector boundary and leaves the file that
    /// long (the record's page is partial, its missing tail the zeros it was padded with): the
    /// next process recovers to version 0, cuts the file and commits another version 1. Whatever
    /// part of that reaches the disk before a second power cut, the torn commit must not verify
    /// again (completed by zeros when the file grows): version 1 is the new one or none.
    func testCommitCutOffAtOpenNeverReturns() throws {
        let directory = TemporaryDirectory()
        let path = directory.path("db")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let first = FaultInjectionStorage()
        let lost = try openDatabase(path: path, options: Self.options(.none), backend: first)
        try lost.write { try $0.put(b("lost"), b("value")) }
        XCTAssertEqual(try lost.versions().map(\.fileLength), [3 * 4096], "a leaf, then the commit record on page 2")
        var image = first.image(.processCrash)
        try lost.close()
        image.files[path + "/data"]!.removeLast(512)
        image.files[path + "/index"] = []

        let commit: [Mutation] = (0 ..< 3).map { .put(space: "", key: b("new-\($0)"), value: [UInt8](repeating: 9, count: 7_000)) }
        var expected = State()
        Self.apply(commit, to: &expected)
        for durability in [DatabaseOptions.Durability.none, .full] {
            /// Runs the second process on `backend` until it ends or the backend crashes.
            func secondProcess(_ backend: FaultInjectionStorage) {
                do {
                    let db = try openDatabase(path: path, options: Self.options(durability), backend: backend)
                    XCTAssertEqual(db.latestVersion, 0, "the torn commit record leaves no version")
                    try db.write { try Self.apply(commit, to: $0) }
                    try db.close()
                } catch {}
            }
            let counter = FaultInjectionStorage(image: image)
            secondProcess(counter)
            for step in 1 ... counter.counts.steps {
                let backend = FaultInjectionStorage(image: image)
                backend.crash(afterStep: step)
                secondProcess(backend)
                for seed in 0 ..< UInt64(24) {
                    let disk = FaultInjectionStorage(image: backend.image(.powerCut(seed: seed, tear: false)))
                    let db = try openDatabase(path: path, options: Self.options(durability), backend: disk)
                    XCTAssertLessThanOrEqual(db.latestVersion, 1)
                    if db.latestVersion == 1 {
                        let state = try db.read(at: 1) { try Self.readState($0).0 }
                        XCTAssertEqual(state, expected, "\(durability), crash after step \(step), power cut \(seed): version 1 is the commit cut off")
                    }
                    try db.close()
                }
            }
        }
    }
}
