#!/usr/bin/env bash
# Builds the libFuzzer target: the engine's sources, the shared fuzz case and the entry
# points, compiled as one module with -sanitize=fuzzer,address. Output: .build-fuzz/cowdb-fuzz
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
out="$root/.build-fuzz"
mkdir -p "$out/module"
cat > "$out/module/module.modulemap" <<MAP
module CCowDBSupport {
    header "$root/Sources/CCowDBSupport/include/cowdb_support.h"
    export *
}
MAP
clang -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CCowDBSupport/include \
    -c Sources/CCowDBSupport/crc32c.c -o "$out/crc32c.o"
mapfile -t sources < <(find Sources/CowDB -name '*.swift' | sort)
swiftc -swift-version 6 -O -g -parse-as-library -sanitize=fuzzer,address -D COWDB_FUZZ \
    -module-name CowDBFuzz -I "$out/module" \
    "${sources[@]}" Tests/CowDBTests/Support/FuzzCase.swift Tools/cowdb-fuzz/FuzzMain.swift \
    "$out/crc32c.o" -use-ld=lld -o "$out/cowdb-fuzz"
echo "built $out/cowdb-fuzz"
