// A second process for CowDB's multi-process tests (not installed; built with the tests).
//   hold DB SECONDS        open for writing, print "ready", sleep, close
//   write DB N             open for writing, commit N versions (key "n" = i), print each version
//   watch DB VERSION SECS  open read-only, poll until VERSION is visible; print the value of "n"
import CowDB
import Foundation

let arguments = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}
guard arguments.count >= 4 else { fail("usage: cowdb-test-helper hold|write|watch DB ARG [ARG]") }
let path = arguments[2]
/// Writes a line to standard output at once (no buffering: the test reads it live).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
do {
    switch arguments[1] {
    case "hold":
        let db = try Database(path: path)
        say("ready")
        Thread.sleep(forTimeInterval: Double(arguments[3]) ?? 1)
        try db.close()
    case "write":
        let db = try Database(path: path)
        for i in 1 ... (Int(arguments[3]) ?? 1) {
            try db.write { txn in
                try txn.put(Array("n".utf8), Array(String(i).utf8))
                try txn.put(Array("pad\(i % 100)".utf8), [UInt8](repeating: UInt8(i & 0xFF), count: 200))
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
    default:
        fail("unknown command \(arguments[1])")
    }
} catch {
    fail("error: \(error)")
}
