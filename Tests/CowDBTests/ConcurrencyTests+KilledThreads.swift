// A writer process of four threads killed with SIGKILL at random moments (issue 14): every
// commit whose `write` returned, as the process logged it, is there on reopen.

import Foundation
import Synchronization
import XCTest
import CowDB
import CowDBStorage

extension ConcurrencyTests {
    /// The helper (`write-threads`) runs four threads, each making single-pair durable commits
    /// (LoggedCommit) and logging each once its `write` returns; it is killed after a seeded
    /// delay (from its start, or from its open) or once it has logged a seeded number of commits
    /// (whichever comes first: a faster writer does not leave thousands of versions to check),
    /// `COWDB_KILL_ROUNDS` (8) times, each round appending to the same database. After each kill
    /// the database opens without repair, `check` finds it clean, and every logged commit is
    /// there (`checkAfterKill`).
    func testFourThreadWriterKilledAtRandomTimesLosesNoAcknowledgedCommit() throws {
        let seed = testSeed("testFourThreadWriterKilledAtRandomTimesLosesNoAcknowledgedCommit")
        var random = SeededGenerator(seed: seed)
        let directory = TemporaryDirectory()
        let path = directory.path("threads-killed")
        let rounds = ProcessInfo.processInfo.environment["COWDB_KILL_ROUNDS"].flatMap(Int.init) ?? 8
        var logged: [LoggedCommit] = []
        for round in 0 ..< rounds {
            // One kill in five comes early (perhaps in the open or its recovery), the rest while committing.
            let early = Int.random(in: 0 ..< 5, using: &random) == 0
            let delay = early ? UInt32.random(in: 0 ... 100_000, using: &random) : UInt32.random(in: 20_000 ... 300_000, using: &random)
            let limit = Int.random(in: 50 ... 1_500, using: &random)
            let commits = try killedWriter(path: path, round: round, early: early, delay: delay, limit: limit)
            logged += commits
            print("round \(round): killed \(delay / 1_000) ms after its \(early ? "start" : "open") or at \(limit) commits, \(commits.count) commits logged")
            try checkAfterKill(path: path, round: round, logged: logged, new: commits)
        }
        XCTAssertGreaterThan(logged.count, 0, "no commit was logged in any round")
    }

    /// Starts the helper's round `round`, kills it `delay` µs after its start (`early`) or its
    /// "ready", or once it has logged `limit` commits; returns the commits it logged.
    func killedWriter(path: String, round: Int, early: Bool, delay: UInt32, limit: Int) throws -> [LoggedCommit] {
        let (writer, pipe) = try helper(["write-threads", path, "\(round)", "4"])
        if !early { XCTAssertEqual(readLine(pipe), "ready", "round \(round)") }
        let started = Date()
        let output = Locked((data: Data(), lines: 0))
        let drained = DispatchSemaphore(value: 0)
        Thread { // the log is read as it comes: the writer never waits on a full pipe
            while case let chunk = pipe.fileHandleForReading.availableData, !chunk.isEmpty {
                output.withLock { $0 = ($0.data + chunk, $0.lines + chunk.filter { $0 == 10 }.count) }
            }
            drained.signal()
        }.start()
        while Date().timeIntervalSince(started) < Double(delay) / 1e6, output.withLock({ $0.lines }) < limit { usleep(500) }
        kill(writer.processIdentifier, SIGKILL)
        writer.waitUntilExit()
        drained.wait()
        XCTAssertEqual(writer.terminationReason, .uncaughtSignal, "round \(round): the writer ended before the kill")
        let lines = output.withLock { String(decoding: $0.data, as: UTF8.self) }.split(separator: "\n").filter { $0 != "ready" }
        let commits = lines.compactMap(LoggedCommit.init(line:))
        XCTAssertEqual(commits.count, lines.count, "round \(round): lines not understood: \(lines.filter { LoggedCommit(line: $0) == nil }.prefix(3))")
        return commits
    }

    /// After the kill of round `round`: the database opens (no repair by hand) and checks clean
    /// at its latest version (the end of the test checks every version); the latest holds one
    /// pair per version, each with the value its key implies, and each thread's commits of a
    /// round from 0 without a gap (a consistent prefix); every commit `logged` so far is there
    /// with its value; each `new` one appears at the version it was logged at, not before.
    func checkAfterKill(path: String, round: Int, logged: [LoggedCommit], new: [LoggedCommit]) throws {
        let db = try openDatabase(path: path)
        defer { try? db.close() }
        let latest = db.latestVersion
        let report = try db.checkReport()
        XCTAssertTrue(report.isClean, "round \(round): check found \(report.problems.prefix(3))")
        let entries = try db.read { txn in Dictionary(try txn.scan().map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first }) }
        var problems: [String] = []
        if UInt64(entries.count) != latest { problems.append("\(entries.count) pairs at version \(latest): not one a commit") }
        var sequences: [[Int]: [Int]] = [:] // [round, thread] → sequence numbers present
        for (key, value) in entries {
            guard let commit = LoggedCommit(key: key), commit.round <= round else {
                problems.append("a key no commit writes: \(String(decoding: key, as: UTF8.self))")
                continue
            }
            if value != commit.value { problems.append("\(String(decoding: key, as: UTF8.self)) holds a wrong value") }
            sequences[[commit.round, commit.thread], default: []].append(commit.sequence)
        }
        for (writer, present) in sequences where present.sorted() != Array(0 ..< present.count) {
            problems.append("round \(writer[0]) thread \(writer[1]): commits \(present.sorted().prefix(20))… not a prefix")
        }
        for commit in logged where entries[commit.key] != commit.value {
            problems.append("\(commit.line) (logged) is missing or wrong at version \(latest)")
        }
        for commit in new {
            let there = commit.version <= latest ? try db.read(at: commit.version) { try $0.get(commit.key) } : nil
            let before = commit.version <= latest ? try db.read(at: commit.version - 1) { try $0.get(commit.key) } : nil
            if there != commit.value || before != nil { problems.append("\(commit.line) (logged) does not first appear at its version") }
        }
        XCTAssertEqual(Array(problems.prefix(5)), [], "round \(round), after the kill (\(problems.count) problems)")
    }
}
