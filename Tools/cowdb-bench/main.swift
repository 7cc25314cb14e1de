// cowdb-bench: CowDB next to LMDB on the same data in the same run (an early cut of the
// benchmark issue: bulk load, random gets, bytes per single-key commit, open time with history).
//   swift run -c release cowdb-bench [--scale N] [--commits N]
import CLMDB
import CowDB
import Foundation

struct Generator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0 ..< n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

func argument(_ name: String, _ fallback: Int) -> Int {
    guard let i = CommandLine.arguments.firstIndex(of: name), i + 1 < CommandLine.arguments.count else { return fallback }
    return Int(CommandLine.arguments[i + 1]) ?? fallback
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func directorySize(_ path: String) -> UInt64 {
    var total: UInt64 = 0
    for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
        var info = stat()
        if stat(path + "/" + name, &info) == 0 { total += UInt64(info.st_blocks) * 512 }
    }
    return total
}

func check(_ rc: Int32, _ what: String) {
    if rc != 0 { fatalError("\(what): \(String(cString: mdb_strerror(rc)))") }
}

/// Runs every workload and prints the table.
func benchmark() throws {
    let scale = argument("--scale", 1_000_000)
    let commitCount = argument("--commits", 100_000)
    let root = NSTemporaryDirectory() + "cowdb-bench-\(getpid())"
    try? FileManager.default.removeItem(atPath: root)
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }

    var random = Generator(state: 1)
    let keys = (0 ..< scale).map { _ in random.bytes(24) }
    let values = (0 ..< scale).map { _ in random.bytes(150) }
    var order = Array(0 ..< scale)
    for i in stride(from: scale - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
    print("scale \(scale): random 24-byte keys, 150-byte values")
    print(String(format: "%-34@ %14@ %14@ %8@", "workload" as NSString, "CowDB" as NSString, "LMDB" as NSString, "ratio" as NSString))
    func row(_ name: String, _ cowdb: Double, _ lmdb: Double, higherIsBetter: Bool = true, unit: String = "") {
        let ratio = higherIsBetter ? cowdb / lmdb : lmdb / cowdb
        print(String(format: "%-34@ %14.0f %14.0f %8.2f %@", name as NSString, cowdb, lmdb, ratio, unit as NSString))
    }

    // MARK: CowDB
    var options = DatabaseOptions()
    options.dirtyPageBudget = argument("--budget-mib", 64) << 20
    let cowPath = root + "/cowdb"
    let db = try Database(path: cowPath, options: options)
    let cowLoad = try seconds {
        try db.write { txn in for i in 0 ..< scale { try txn.put(keys[i], values[i]) } }
    }
    let cowSize = directorySize(cowPath)
    let shape = try db.stats().keyspaces[0]
    print("CowDB tree after bulk load: depth \(shape.depth), \(shape.branchPages) branch pages, \(shape.leafPages) leaf pages")
    var cowSum: UInt64 = 0
    func cowGets() throws -> Double {
        try seconds {
            var i = 0
            while i < scale {
                try db.read { txn in
                    for j in i ..< min(i + 1000, scale) {
                        cowSum &+= try txn.withValue(for: keys[order[j]]) { bytes in bytes.reduce(0) { $0 &+ UInt64($1) } } ?? 0
                    }
                }
                i += 1000
            }
        }
    }
    _ = try cowGets()
    let cowGet = try cowGets()
    let singleBefore = try db.versions().last!.fileLength
    let cowSingle = try seconds {
        for i in 0 ..< 1000 { try db.write { txn in try txn.put(keys[order[i]], values[i]) } }
    }
    let bytesPerCommit = Double(try db.versions().last!.fileLength - singleBefore) / 1000
    try db.close()

    // MARK: LMDB
    let lmdbPath = root + "/lmdb"
    try FileManager.default.createDirectory(atPath: lmdbPath, withIntermediateDirectories: true)
    var env: OpaquePointer?
    check(mdb_env_create(&env), "env")
    check(mdb_env_set_mapsize(env, 64 << 30), "mapsize")
    check(mdb_env_open(env, lmdbPath, UInt32(MDB_NOTLS), 0o644), "open")
    var dbi: MDB_dbi = 0
    let lmdbLoad = seconds {
        var txn: OpaquePointer?
        check(mdb_txn_begin(env, nil, 0, &txn), "begin")
        check(mdb_dbi_open(txn, nil, 0, &dbi), "dbi")
        for i in 0 ..< scale {
            keys[i].withUnsafeBytes { k in values[i].withUnsafeBytes { v in
                var key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var value = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                check(mdb_put(txn, dbi, &key, &value, 0), "put")
            } }
        }
        check(mdb_txn_commit(txn), "commit")
    }
    let lmdbSize = directorySize(lmdbPath)
    var lmdbSum: UInt64 = 0
    func lmdbGets() -> Double {
        seconds {
            var i = 0
            while i < scale {
                var txn: OpaquePointer?
                check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "begin")
                for j in i ..< min(i + 1000, scale) {
                    keys[order[j]].withUnsafeBytes { k in
                        var key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                        var value = MDB_val()
                        check(mdb_get(txn, dbi, &key, &value), "get")
                        lmdbSum &+= UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size).reduce(0) { $0 &+ UInt64($1) }
                    }
                }
                mdb_txn_abort(txn)
                i += 1000
            }
        }
    }
    _ = lmdbGets()
    let lmdbGet = lmdbGets()
    let lmdbSingle = seconds {
        for i in 0 ..< 1000 {
            var txn: OpaquePointer?
            check(mdb_txn_begin(env, nil, 0, &txn), "begin")
            keys[order[i]].withUnsafeBytes { k in values[i].withUnsafeBytes { v in
                var key = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var value = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                check(mdb_put(txn, dbi, &key, &value, 0), "put")
            } }
            check(mdb_txn_commit(txn), "commit")
        }
    }
    mdb_env_close(env)
    precondition(cowSum == lmdbSum, "checksums of the values read differ")

    row("bulk load, one txn (puts/s)", Double(scale) / cowLoad, Double(scale) / lmdbLoad)
    row("random gets, warm (gets/s)", Double(scale) / cowGet, Double(scale) / lmdbGet)
    row("durable single-key commits/s", 1000 / cowSingle, 1000 / lmdbSingle)
    row("size after bulk load (bytes)", Double(cowSize), Double(lmdbSize), higherIsBetter: false)
    print(String(format: "bytes appended per single-key commit: %.0f", bytesPerCommit))

    // MARK: Open time with a long history
    let historyPath = root + "/history"
    var fast = DatabaseOptions()
    fast.durability = .none
    let history = try Database(path: historyPath, options: fast)
    for i in 0 ..< commitCount { try history.write { txn in try txn.put(keys[i % scale], values[i % scale]) } }
    try history.close()
    var opens: [Double] = []
    for _ in 0 ..< 5 {
        var reopened: Database?
        opens.append(try seconds { reopened = try Database(path: historyPath) })
        try reopened?.close()
    }
    print(String(format: "open with %d commits of history: %.2f ms (median of 5), data file %.0f MiB", commitCount,
                 opens.sorted()[2] * 1000, Double(directorySize(historyPath)) / 1048576))

}

try benchmark()
