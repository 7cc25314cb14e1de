// The libFuzzer entry point of the replica fuzzer: restore's verification and writing of
// segments from a bucket (Tests/CowDBReplicationTests/ReplicaFuzzCase.swift), without the
// network. Built by Tools/cowdb-fuzz/build.sh as .build-fuzz/cowdb-fuzz-replica with the
// replication files that need no HTTP (the manifest, locations, errors, the verifier); seeds
// in Tools/cowdb-fuzz/seeds-replica, which ReplicaFuzzSeedTests replays.

import Foundation
import Glibc

/// Where each input is restored (tmpfs, one per process).
nonisolated(unsafe) var replicaScratch = ""

/// libFuzzer calls this once: picks the scratch directory.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    replicaScratch = "\(base)/cowdb-fuzz-replica-\(getpid())"
    return 0
}

/// libFuzzer calls this for every input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    ReplicaFuzzCase.run(UnsafeRawBufferPointer(start: data, count: size), scratch: replicaScratch)
    return 0
}
