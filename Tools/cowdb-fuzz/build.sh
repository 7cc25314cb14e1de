#!/usr/bin/env bash
# Builds the libFuzzer targets (not SwiftPM targets: every file needs -sanitize=fuzzer,address).
# The engine is compiled once, as its four layer modules in order (CowDBFormat → CowDBStorage →
# CowDBTree → CowDB, as Package.swift has them), each with testing enabled and one package name
# (they share `package` declarations); each target is one more module in that package that imports
# them (`@testable import CowDB`, `import CowDBFormat`, …):
#   .build-fuzz/cowdb-fuzz       database files (FuzzCase.swift): mutated data, index, tags,
#                                CURRENT and lock files
#   .build-fuzz/cowdb-fuzz-ops   operations against an in-memory model on a faulty disk that
#                                crashes (OpFuzz*.swift)
#   .build-fuzz/cowdb-fuzz-load  `cowdb load`'s text parser (the tool's DumpReader and friends)
#   .build-fuzz/cowdb-fuzz-replica  restore's verification and writing of segments from a bucket
#                                (ReplicaFuzzCase.swift, with the replication files that need no HTTP)
#   Tools/cowdb-fuzz/build.sh [target…]      (default: all four)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
out="$root/.build-fuzz"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cowdb-fuzz cowdb-fuzz-ops cowdb-fuzz-load cowdb-fuzz-replica)
flags=(-swift-version 6 -O -g -parse-as-library -sanitize=fuzzer,address -I "$out/module" -package-name cowdb)
layers=(CowDBFormat CowDBStorage CowDBTree CowDB)
mkdir -p "$out/module" "$out/engine"
cat > "$out/module/module.modulemap" <<MAP
module CCowDBSupport {
    header "$root/Sources/CCowDBSupport/include/cowdb_support.h"
    export *
}
MAP
c_objects=()
for source in Sources/CCowDBSupport/*.c; do
    object="$out/$(basename "$source" .c).o"
    if [ ! -f "$object" ] || [ "$source" -nt "$object" ]; then
        clang -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CCowDBSupport/include -c "$source" -o "$object"
    fi
    c_objects+=("$object")
done
# swift-system (the library's one dependency, issue 15), from SwiftPM's checkout, built the way
# its Package.swift builds it: SYSTEM_PACKAGE, the Lifetimes feature, its availability macros.
system="$root/.build/checkouts/swift-system"
[ -d "$system" ] || swift package resolve
engine_objects=()
if [ ! -f "$out/engine/SystemPackage.o" ]; then
    clang -O2 -g -fsanitize=fuzzer-no-link,address -I "$system/Sources/CSystem/include" \
        -c "$system/Sources/CSystem/shims.c" -o "$out/CSystem.o"
    availability=()
    while IFS= read -r line; do availability+=(-Xfrontend -define-availability -Xfrontend "$line"); done < <(
        sed -n 's/^ *Available("\([^"]*\)", "\([^"]*\)"),*$/System \1:\2/p' "$system/Package.swift")
    mapfile -t sources < <(find "$system/Sources/System" -name '*.swift' | sort)
    swiftc -swift-version 5 -O -g -parse-as-library -sanitize=fuzzer,address -module-name SystemPackage -wmo \
        -D SYSTEM_PACKAGE -enable-experimental-feature Lifetimes "${availability[@]}" \
        -I "$system/Sources/CSystem/include" -c "${sources[@]}" \
        -emit-module -emit-module-path "$out/module/SystemPackage.swiftmodule" -o "$out/engine/SystemPackage.o"
fi
engine_objects+=("$out/engine/SystemPackage.o")
c_objects+=("$out/CSystem.o")
flags+=(-I "$system/Sources/CSystem/include")
# Each layer, unless neither its sources nor a layer below it changed since it was last built.
stale=""
for layer in "${layers[@]}"; do
    object="$out/engine/$layer.o"
    engine_objects+=("$object")
    if [ -n "$stale" ] || [ ! -f "$object" ] || [ -n "$(find "Sources/$layer" Sources/CCowDBSupport -newer "$object")" ]; then
        stale=yes
        mapfile -t sources < <(find "Sources/$layer" -name '*.swift' | sort)
        swiftc "${flags[@]}" -enable-testing -module-name "$layer" -wmo -c "${sources[@]}" \
            -emit-module -emit-module-path "$out/module/$layer.swiftmodule" -o "$object"
    fi
done
support=(Tests/CowDBTestSupport/*.swift)
tool=Tools/cowdb/Support
for target in "${targets[@]}"; do
    case "$target" in
    cowdb-fuzz) sources=(Tests/CowDBTests/Support/FuzzCase*.swift Tools/cowdb-fuzz/FuzzMain.swift) ;;
    cowdb-fuzz-ops) sources=("${support[@]}" Tests/CowDBTests/Support/FaultInjectionStorage*.swift
        Tests/CowDBTests/Support/ModelState.swift
        Tests/CowDBTests/Support/OpFuzz*.swift Tools/cowdb-fuzz/OpFuzzMain.swift) ;;
    cowdb-fuzz-load) sources=("$tool/DumpReader.swift" "$tool/DumpFormat.swift" "$tool/LineReader.swift"
        "$tool/ByteEscaping.swift" "$tool/ToolError.swift" "$tool/BufferedOutput.swift" "$tool/LoadSession.swift"
        "$tool/Progress.swift" Tools/cowdb-fuzz/LoadFuzzMain.swift) ;;
    cowdb-fuzz-replica) replication=Sources/CowDBReplication
        sources=("$replication/ReplicaManifest.swift" "$replication/ReplicaLocation.swift" "$replication/ReplicaError.swift"
        "$replication/SegmentVerifier.swift" Tests/CowDBReplicationTests/ReplicaFuzzCase.swift Tools/cowdb-fuzz/ReplicaFuzzMain.swift) ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    swiftc "${flags[@]}" -module-name "$(echo "$target" | tr -d '-')" "${sources[@]}" \
        "${engine_objects[@]}" "${c_objects[@]}" -use-ld=lld -o "$out/$target"
    echo "built $out/$target"
done
