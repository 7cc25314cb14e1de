#!/usr/bin/env bash
# Builds the libFuzzer targets (not SwiftPM targets: every file needs -sanitize=fuzzer,address).
# The engine is compiled once, as the module CowDB with testing enabled; each target is one
# more module that imports it with `@testable import CowDB`:
#   .build-fuzz/cowdb-fuzz       database files (FuzzCase.swift): mutated data, index, tags,
#                                CURRENT and lock files
#   .build-fuzz/cowdb-fuzz-ops   operations against an in-memory model on a faulty disk that
#                                crashes (OpFuzz*.swift)
#   .build-fuzz/cowdb-fuzz-load  `cowdb load`'s text parser (the tool's DumpReader and friends)
#   Tools/cowdb-fuzz/build.sh [target…]      (default: all three)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
out="$root/.build-fuzz"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cowdb-fuzz cowdb-fuzz-ops cowdb-fuzz-load)
flags=(-swift-version 6 -O -g -parse-as-library -sanitize=fuzzer,address -I "$out/module")
mkdir -p "$out/module" "$out/engine"
cat > "$out/module/module.modulemap" <<MAP
module CCowDBSupport {
    header "$root/Sources/CCowDBSupport/include/cowdb_support.h"
    export *
}
MAP
# The engine, unless no source changed since it was last built.
if [ ! -f "$out/engine/CowDB.o" ] || [ -n "$(find Sources/CowDB Sources/CCowDBSupport -newer "$out/engine/CowDB.o")" ]; then
    clang -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CCowDBSupport/include \
        -c Sources/CCowDBSupport/crc32c.c -o "$out/crc32c.o"
    mapfile -t engine < <(find Sources/CowDB -name '*.swift' | sort)
    swiftc "${flags[@]}" -enable-testing -module-name CowDB -wmo -c "${engine[@]}" \
        -emit-module -emit-module-path "$out/module/CowDB.swiftmodule" -o "$out/engine/CowDB.o"
fi
support=(Tests/CowDBTestSupport/TestSupport.swift)
tool=Tools/cowdb/Support
for target in "${targets[@]}"; do
    case "$target" in
    cowdb-fuzz) sources=(Tests/CowDBTests/Support/FuzzCase*.swift Tools/cowdb-fuzz/FuzzMain.swift) ;;
    cowdb-fuzz-ops) sources=("${support[@]}" Tests/CowDBTests/Support/FaultInjectionStorage.swift
        Tests/CowDBTests/Support/OpFuzz*.swift Tools/cowdb-fuzz/OpFuzzMain.swift) ;;
    cowdb-fuzz-load) sources=("$tool/DumpReader.swift" "$tool/DumpFormat.swift" "$tool/LineReader.swift"
        "$tool/ByteEscaping.swift" "$tool/ToolError.swift" "$tool/BufferedOutput.swift" "$tool/LoadSession.swift"
        "$tool/Progress.swift" Tools/cowdb-fuzz/LoadFuzzMain.swift) ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    swiftc "${flags[@]}" -module-name "$(echo "$target" | tr -d '-')" "${sources[@]}" \
        "$out/engine/CowDB.o" "$out/crc32c.o" -use-ld=lld -o "$out/$target"
    echo "built $out/$target"
done
