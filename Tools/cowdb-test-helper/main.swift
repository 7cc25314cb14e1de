// A second process for CowDB's multi-process tests (not installed; built with the tests).
//   hold DB SECONDS        open for writing, print "ready", sleep, close
//   write DB N             open for writing, commit N versions (key "n" = the version), print each version
//   watch DB VERSION SECS  open read-only, poll until VERSION is visible; print the value of "n"
//   verify DB SECS [STOP]  open read-only, read for SECS seconds (or until the file STOP exists)
//                          checking that "n" equals the version at the latest and at random
//                          older versions (drawn from the seed in COWDB_SEED, which the
//                          test derives from its own); print "ok READS"
//   write-threads DB ROUND THREADS  open for writing, print "ready", then THREADS threads each make
//                          single-pair commits (LoggedCommit) until killed, logging each one
//                          with one write(2) to standard output once its `write` returns
//   feed DB AFTER COUNT    open read-only, print "ready", follow `changes(after: AFTER)` for COUNT
//                          commits, printing "version V entries E at NS" (NS: wall-clock ns
//                          when it arrived) for each, then "cpu MS" (CPU time since "ready")
import CowDB
import CowDBTestSupport
import Foundation

let arguments = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}
guard arguments.count >= 4 else { fail("usage: cowdb-test-helper hold|write|write-threads|watch|verify DB ARG [ARG]") }
let path = arguments[2]
/// Writes a line to standard output at once (no buffering: the test reads it live).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// Commits of `round` from `threads` threads on `db`, each logged once its `write` returned;
/// returns after a million commits a thread (the test kills the process long before).
func writeThreads(_ db: Database, round: Int, threads: Int) {
    let done = DispatchSemaphore(value: 0)
    for thread in 0 ..< threads {
        Thread {
            do {
                for sequence in 0 ..< 1_000_000 {
                    var commit = LoggedCommit(round: round, thread: thread, sequence: sequence)
                    commit.version = try db.write { txn in
                        try txn.put(commit.key, commit.value)
                        return txn.version + 1
                    }
                    // One write(2) of a line shorter than PIPE_BUF: the reader gets it whole or not at all.
                    let line = Array((commit.line + "\n").utf8)
                    guard line.withUnsafeBytes({ write(1, $0.baseAddress, $0.count) }) == line.count else { fail("cannot log \(commit.line)") }
                }
            } catch {
                fail("thread \(thread): \(error)")
            }
            done.signal()
        }.start()
    }
    for _ in 0 ..< threads { done.wait() }
}

/// CPU time of this process (user + system), in milliseconds.
func cpuMilliseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3
}

/// Follows the change feed of a read-only `db` after `after` for `count` commits (see `feed`).
func follow(_ db: Database, after: UInt64, count: Int) {
    let done = DispatchSemaphore(value: 0)
    let start = cpuMilliseconds()
    Task {
        do {
            var received = 0
            for try await commit in db.changes(after: after) {
                let now = Date().timeIntervalSince1970
                say("version \(commit.version) entries \(commit.entries.count) at \(Int64(now * 1e9))")
                received += 1
                if received == count { break }
            }
        } catch {
            fail("feed: \(error)")
        }
        done.signal()
    }
    done.wait()
    say("cpu \(cpuMilliseconds() - start)")
}

do {
    switch arguments[1] {
    case "feed":
        var options = DatabaseOptions()
        options.readOnly = true
        let db = try Database(path: path, options: options)
        say("ready")
        follow(db, after: UInt64(arguments[3]) ?? 0, count: arguments.count > 4 ? Int(arguments[4]) ?? 1 : 1)
        try db.close()
    case "write-threads":
        let db = try Database(path: path)
        say("ready")
        writeThreads(db, round: Int(arguments[3]) ?? 0, threads: arguments.count > 4 ? Int(arguments[4]) ?? 4 : 4)
        try db.close()
    case "hold":
        let db = try Database(path: path)
        say("ready")
        Thread.sleep(forTimeInterval: Double(arguments[3]) ?? 1)
        try db.close()
    case "write":
        let db = try Database(path: path)
        for _ in 1 ... (Int(arguments[3]) ?? 1) {
            let i = db.latestVersion + 1
            try db.write { txn in
                try txn.put(Array("n".utf8), Array(String(i).utf8))
                // Some values span overflow pages; some keys go away again.
                try txn.put(Array("pad\(i % 100)".utf8), [UInt8](repeating: UInt8(i & 0xFF), count: i % 7 == 0 ? 9_000 : 200))
                if i % 5 == 0 { _ = try txn.delete(Array("pad\((i + 50) % 100)".utf8)) }
            }
            say("committed \(db.latestVersion)")
        }
        try db.close()
    case "watch":
        var options = DatabaseOptions()
        options.readOnly = true
        let target = UInt64(arguments[3]) ?? 1
        let deadline = Date().addingTimeInterval(Double(arguments.count > 4 ? arguments[4] : "10") ?? 10)
        let db = try Database(path: path, options: options)
        say("ready")
        var seen: Set<UInt64> = []
        while Date() < deadline {
            let (version, value) = try db.read { txn in (txn.version, try txn.get(Array("n".utf8))) }
            seen.insert(version)
            if version >= target {
                say("version \(version) n=\(value.map { String(decoding: $0, as: UTF8.self) } ?? "nil") distinct=\(seen.count)")
                try db.close()
                exit(0)
            }
            usleep(500)
        }
        fail("timed out at version \(db.latestVersion)")
    case "verify":
        var options = DatabaseOptions()
        options.readOnly = true
        let deadline = Date().addingTimeInterval(Double(arguments[3]) ?? 1)
        // Seeded by the test (never from the system's generator), so a printed seed replays its draws.
        guard let seed = ProcessInfo.processInfo.environment["COWDB_SEED"].flatMap({ UInt64($0) }) else { fail("verify needs COWDB_SEED") }
        FileHandle.standardError.write(Data("cowdb-test-helper verify seed: \(seed)\n".utf8))
        var random = SeededGenerator(seed: seed)
        let db = try Database(path: path, options: options)
        say("ready")
        var reads = 0
        /// Fails unless "n" holds the version being read (or the database is still empty).
        func check(_ txn: ReadTransaction) throws {
            let value = try txn.get(Array("n".utf8)).map { String(decoding: $0, as: UTF8.self) }
            guard txn.version == 0 || value == String(txn.version) else {
                fail("version \(txn.version) reads n=\(value ?? "nil")")
            }
            reads += 1
        }
        let stopFile = arguments.count > 4 ? arguments[4] : nil
        while Date() < deadline, !(stopFile.map { FileManager.default.fileExists(atPath: $0) } ?? false) {
            try db.read { try check($0) }
            let latest = db.latestVersion
            if latest > 0 {
                do {
                    try db.read(at: UInt64.random(in: 1 ... latest, using: &random)) { try check($0) }
                } catch CowDBError.versionNotFound {
                    // dropped by a compaction
                }
            }
            usleep(200)
        }
        try db.close()
        say("ok \(reads)")
    default:
        fail("unknown command \(arguments[1])")
    }
} catch {
    fail("error: \(error)")
}
