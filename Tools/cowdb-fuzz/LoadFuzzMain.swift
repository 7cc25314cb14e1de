// The libFuzzer entry point for `cowdb load`'s text parser: the tool's own DumpReader,
// LineReader and LoadSession (compiled in from Tools/cowdb/Support), run as `cowdb load` runs
// them, into a scratch database. Built by Tools/cowdb-fuzz/build.sh as
// .build-fuzz/cowdb-fuzz-load; seeds in Tools/cowdb-fuzz/seeds-load. CowDBToolTests replays
// the seeds through the `cowdb load` process.
//
// Input layout:
//
//   offset size field
//   0      1    flags   bit 0: plain text (-T); bit 1: no overwrite (-N); bit 2: load into
//                       the keyspace "fuzz" (-s fuzz); bits 3-5: batch B (0: one commit,
//                       else --batch 2^(B-1))
//   1      …    text    the dump, as `cowdb load` reads it from a file

import CowDB
import Foundation
import Glibc

/// Where each input's text and database go (tmpfs, one per process).
nonisolated(unsafe) var loadScratch = ""

/// libFuzzer calls this once: picks the scratch directory.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    loadScratch = "\(base)/cowdb-fuzz-load-\(getpid())"
    return 0
}

/// libFuzzer calls this for every input: loads it, as `cowdb load` would; any error is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let flags = input.first ?? 0
    let manager = FileManager.default
    try? manager.removeItem(atPath: loadScratch)
    try? manager.createDirectory(atPath: loadScratch, withIntermediateDirectories: true)
    let textPath = loadScratch + "/input.txt"
    _ = manager.createFile(atPath: textPath, contents: Data(input.dropFirst()))
    var options = DatabaseOptions()
    options.durability = .none
    options.mapReservation = 1 << 26
    guard let lines = try? LineReader.opening(textPath),
          let database = try? Database(path: loadScratch + "/db", options: options) else { return 0 }
    defer { try? database.close() }
    let reader = DumpReader(lines: lines, plainText: flags & 1 != 0) { _ in }
    let progress = ProgressBar(label: "load", unit: .bytes, total: lines.totalBytes, enabled: false)
    var session = LoadSession(reader: reader, lines: lines, keyspace: flags & 4 != 0 ? "fuzz" : nil,
                              noOverwrite: flags & 2 != 0, progress: progress)
    let batch = Int(flags >> 3 & 7)
    var more = true
    while more {
        // One commit per batch, as the tool makes them; an error ends the load.
        guard let again = try? database.write({ txn in try session.load(into: txn, limit: batch == 0 ? nil : 1 << (batch - 1)) }) else { break }
        more = again && batch != 0
    }
    return 0
}
