#!/usr/bin/env bash
# Builds and runs one libFuzzer target (COWDB_FUZZ_TARGET, default cowdb-fuzz):
#   cowdb-fuzz       mutated database files (seeds in Tools/cowdb-fuzz/seeds)
#   cowdb-fuzz-ops   operations against a model on a faulty, crashing disk (seeds-ops)
#   cowdb-fuzz-load  `cowdb load`'s text parser (seeds-load)
#   cowdb-fuzz-replica  restore's verification of segments from a bucket (seeds-replica)
#   [COWDB_FUZZ_TARGET=…] Tools/cowdb-fuzz/run.sh [SECONDS] [more libFuzzer flags]
# The working corpus grows in .build-fuzz/corpus[-ops|-load] (seeded from the seeds folder);
# crashes, leaks and timeouts land in .build-fuzz/findings[-ops|-load]/. Replay one with
#   .build-fuzz/<target> .build-fuzz/findings…/crash-…
# and keep it, once fixed, in Tests/CowDBTests/Fixtures/fuzz/ (files), Fixtures/opfuzz/
# (operations) or Tests/CowDBToolTests/Fixtures/loadfuzz/ (load), which the tests replay.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-600}"
shift || true
target="${COWDB_FUZZ_TARGET:-cowdb-fuzz}"
case "$target" in
cowdb-fuzz) suffix=""; seeds=seeds; max_len=262144 ;;
cowdb-fuzz-ops) suffix="-ops"; seeds=seeds-ops; max_len=4096 ;;
cowdb-fuzz-load) suffix="-load"; seeds=seeds-load; max_len=65536 ;;
cowdb-fuzz-replica) suffix="-replica"; seeds=seeds-replica; max_len=262144 ;;
*) echo "unknown target $target" >&2; exit 2 ;;
esac
Tools/cowdb-fuzz/build.sh "$target"
mkdir -p ".build-fuzz/corpus$suffix" ".build-fuzz/findings$suffix"
exec ".build-fuzz/$target" ".build-fuzz/corpus$suffix" "Tools/cowdb-fuzz/$seeds" \
    -max_len="$max_len" -timeout=30 -rss_limit_mb=4096 -max_total_time="$seconds" \
    -artifact_prefix=".build-fuzz/findings$suffix/" -print_final_stats=1 "$@"
