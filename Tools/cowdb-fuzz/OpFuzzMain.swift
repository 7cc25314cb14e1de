// The libFuzzer entry point of the operation fuzzer: each input is an OpFuzzProgram (drawn
// at the top of Tests/CowDBTests/Support/OpFuzzProgram.swift) run by OpFuzzRunner against its
// model on an in-memory faulty disk. A mismatch traps, so libFuzzer keeps the input.
// Built by Tools/cowdb-fuzz/build.sh as .build-fuzz/cowdb-fuzz-ops.

import Foundation

/// libFuzzer calls this for every input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let problems = OpFuzzRunner.run(UnsafeRawBufferPointer(start: data, count: size))
    if !problems.isEmpty {
        FileHandle.standardError.write(Data(("cowdb-fuzz-ops: the database disagrees with the model:\n"
            + problems.prefix(10).joined(separator: "\n") + "\n").utf8))
        abort()
    }
    return 0
}
