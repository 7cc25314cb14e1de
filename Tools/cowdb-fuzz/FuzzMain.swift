// The libFuzzer entry points of the file fuzzer. Built by Tools/cowdb-fuzz/build.sh with
// Tests/CowDBTests/Support/FuzzCase.swift against the engine (not a SwiftPM target: it
// needs `-sanitize=fuzzer,address` on every file).

import Foundation
import Glibc

/// Where each input is written as a database directory (tmpfs, one per process).
nonisolated(unsafe) var scratchDirectory = ""

/// libFuzzer calls this once: picks the scratch directory and, when `COWDB_FUZZ_WRITE_SEEDS`
/// names a directory, writes the seed corpus there first.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    scratchDirectory = "\(base)/cowdb-fuzz-\(getpid())"
    if let seedDirectory = ProcessInfo.processInfo.environment["COWDB_FUZZ_WRITE_SEEDS"] {
        do {
            try FileManager.default.createDirectory(atPath: seedDirectory, withIntermediateDirectories: true)
            for seed in try FuzzCase.makeSeeds(scratch: scratchDirectory + "-seeds") {
                _ = FileManager.default.createFile(atPath: seedDirectory + "/" + seed.name, contents: Data(seed.bytes))
            }
        } catch {
            FileHandle.standardError.write(Data("cowdb-fuzz: cannot write seeds: \(error)\n".utf8))
            exit(1)
        }
    }
    return 0
}

/// libFuzzer calls this for every input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzCase.run(UnsafeRawBufferPointer(start: data, count: size), in: scratchDirectory)
    return 0
}
