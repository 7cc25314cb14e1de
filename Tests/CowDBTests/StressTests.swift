import Foundation
import Synchronization
import XCTest
@testable import CowDB
import CowDBFormat
import CowDBStorage
import CowDBTree

/// Many reader threads, snapshots held across commits, one writer and a second writer thread
/// waiting its turn — the suite to run under Thread Sanitizer:
///
///     swift test --sanitize=thread --scratch-path .build-tsan --filter StressTests
///
/// Writer A stamps every key of the default keyspace with its round number and keeps
/// `50 + round % 50` keys; writer B bumps a counter in the "counter" keyspace. A reader checks
/// that one read transaction sees a single round throughout (every key, the count, a full
/// scan, a repeated look-up) and that the counter never goes backwards between its reads.
final class StressTests: XCTestCase {
    private static let rounds = 300
    private static let counterBumps = 100
    private static let readerThreads = 6

    /// The keys present after writer A's round `round`.
    private static func keys(round: Int) -> [[UInt8]] {
        (0 ..< 50 + round % 50).map { Array(String(format: "key%03d", $0).utf8) }
    }

    /// The value writer A stores for `key` in round `round`: the round in digits, and for some
    /// keys a long non-digit tail, to use overflow pages.
    private static func value(round: Int, key index: Int) -> [UInt8] {
        let stamp = Array("\(round)".utf8)
        return index % 17 == 0 ? stamp + [UInt8](repeating: UInt8(0xFF - round % 100), count: 6_000) : stamp
    }

    /// The round a value was written in.
    private static func round(of value: [UInt8]) -> Int? {
        Int(String(decoding: value.prefix { (0x30 ..< 0x3A).contains($0) }, as: UTF8.self))
    }

    /// Checks one read transaction: one round everywhere, count and scan agreeing with it.
    private static func verify(_ transaction: ReadTransaction) throws -> (round: Int, problems: [String]) {
        var problems: [String] = []
        guard let first = try transaction.get(Array("key000".utf8)), let round = round(of: first) else {
            return (-1, ["version \(transaction.version): key000 missing"])
        }
        let expected = keys(round: round)
        let count = try transaction.count
        if count != UInt64(expected.count) {
            problems.append("version \(transaction.version): count \(count), round \(round) has \(expected.count)")
        }
        var scanned = 0
        for (index, entry) in try transaction.scan().enumerated() {
            if index >= expected.count || entry.key != expected[index] || entry.value != value(round: round, key: index) {
                problems.append("version \(transaction.version): entry \(index) of the scan is not round \(round)'s")
                break
            }
            scanned += 1
        }
        if scanned != expected.count { problems.append("version \(transaction.version): scan saw \(scanned) of \(expected.count)") }
        if try transaction.get(Array("key000".utf8)) != first { problems.append("version \(transaction.version): key000 changed within a read") }
        return (round, problems)
    }

    /// What the threads of `testReadersSnapshotsAndTwoWritersUnderLoad` share: the problems
    /// found, the flag that stops the readers, and counts.
    private final class Shared: Sendable {
        let problems = Mutex<[String]>([])
        let stop = Atomic<Bool>(false)
        let readsDone = Atomic<Int>(0)
        let snapshotsChecked = Atomic<Int>(0)

        /// Records problems found by a thread.
        func report(_ found: [String]) {
            if !found.isEmpty { problems.withLock { $0.append(contentsOf: found) } }
        }
    }

    func testReadersSnapshotsAndTwoWritersUnderLoad() throws {
        let seed = testSeed("StressTests")
        let directory = TemporaryDirectory()
        var options = DatabaseOptions()
        options.durability = .none
        let db = try openDatabase(path: directory.path("stress"), options: options)
        try db.write { transaction in
            for (index, key) in Self.keys(round: 0).enumerated() { try transaction.put(key, Self.value(round: 0, key: index)) }
            try transaction.createKeyspace("counter").put(Array("n".utf8), Array("0".utf8))
        }
        let shared = Shared()
        let readers = (0 ..< Self.readerThreads).map { reader in
            Thread { Self.readUntilStopped(db, reader: reader, seed: seed, shared) }
        }
        let writerB = Thread { Self.bumpCounter(db, shared) }
        readers.forEach { $0.start() }
        writerB.start()
        for round in 1 ... Self.rounds {
            try db.write { transaction in
                let keys = Self.keys(round: round)
                for (index, key) in keys.enumerated() { try transaction.put(key, Self.value(round: round, key: index)) }
                for key in Self.keys(round: round - 1).dropFirst(keys.count) { _ = try transaction.delete(key) }
            }
        }
        while !writerB.isFinished { usleep(1000) }
        shared.stop.store(true, ordering: .relaxed)
        while readers.contains(where: { !$0.isFinished }) { usleep(1000) }

        XCTAssertEqual(shared.problems.withLock { Array($0.prefix(10)) }, [])
        XCTAssertGreaterThan(shared.readsDone.load(ordering: .relaxed), Self.readerThreads)
        print("StressTests: \(shared.readsDone.load(ordering: .relaxed)) checked reads, \(shared.snapshotsChecked.load(ordering: .relaxed)) snapshots held across commits, \(db.latestVersion) versions")
        try db.read { transaction in
            XCTAssertEqual(try Self.verify(transaction).round, Self.rounds)
            XCTAssertEqual(try transaction.keyspace("counter").get(Array("n".utf8)), Array("\(Self.counterBumps)".utf8))
        }
        XCTAssertEqual(db.latestVersion, UInt64(1 + Self.rounds + Self.counterBumps))
        try db.checkAndClose(allVersions: false)
    }

    /// A reader thread: random checked reads (the latest version, an older one, snapshots held
    /// across commits and checked again, time travel) until `shared.stop`.
    private static func readUntilStopped(_ db: Database, reader: Int, seed: UInt64, _ shared: Shared) {
        var random = SeededGenerator(seed: seed &+ UInt64(reader))
        var lastCounter = 0
        var held: [(Snapshot, Int)] = []
        while !shared.stop.load(ordering: .relaxed) {
            do {
                switch Int.random(in: 0 ..< 10, using: &random) {
                case 0 ..< 5: // the latest version, checked whole
                    let (_, found) = try db.read { try Self.verify($0) }
                    shared.report(found)
                    let counter = try db.read { try Int(String(decoding: $0.keyspace("counter").get(Array("n".utf8)) ?? [], as: UTF8.self)) ?? -1 }
                    if counter < lastCounter { shared.report(["counter went back from \(lastCounter) to \(counter)"]) }
                    lastCounter = counter
                case 5 ..< 7: // an older version, by number
                    let latest = db.latestVersion
                    let version = UInt64.random(in: 1 ... latest, using: &random)
                    let (_, found) = try db.read(at: version) { try Self.verify($0) }
                    shared.report(found)
                case 7: // take a snapshot and hold it across commits
                    let snapshot = try db.snapshot()
                    let (round, found) = try snapshot.read { try Self.verify($0) }
                    shared.report(found)
                    held.append((snapshot, round))
                case 8: // re-check and release the oldest held snapshot
                    if !held.isEmpty {
                        let (snapshot, round) = held.removeFirst()
                        let (again, found) = try snapshot.read { try Self.verify($0) }
                        shared.report(found + (again == round ? [] : ["snapshot moved from round \(round) to \(again)"]))
                        snapshot.close()
                        shared.snapshotsChecked.add(1, ordering: .relaxed)
                    }
                default: // the version list, and a time-travel read
                    let versions = try db.versions()
                    if let pick = versions.randomElement(using: &random) {
                        let (_, found) = try db.read(asOf: pick.timestamp) { try Self.verify($0) }
                        shared.report(found)
                    }
                }
                shared.readsDone.add(1, ordering: .relaxed)
            } catch {
                shared.report(["reader \(reader): \(error)"])
            }
        }
        for (snapshot, _) in held { snapshot.close() }
    }

    /// Writer B: bumps the counter keyspace's "n" `counterBumps` times, a commit each.
    private static func bumpCounter(_ db: Database, _ shared: Shared) {
        for _ in 0 ..< Self.counterBumps {
            do {
                try db.write { transaction in
                    let counter = try transaction.keyspace("counter")
                    let n = Int(String(decoding: try counter.get(Array("n".utf8)) ?? [], as: UTF8.self)) ?? 0
                    try counter.put(Array("n".utf8), Array("\(n + 1)".utf8))
                }
            } catch {
                shared.report(["writer B: \(error)"])
            }
            usleep(500)
        }
    }
}
