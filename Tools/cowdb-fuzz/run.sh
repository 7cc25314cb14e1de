#!/usr/bin/env bash
# Builds and runs the libFuzzer target on mutated real database files.
#   Tools/cowdb-fuzz/run.sh [SECONDS] [more libFuzzer flags]
# The working corpus grows in .build-fuzz/corpus (seeded from Tools/cowdb-fuzz/seeds);
# crashes, leaks and timeouts land in .build-fuzz/findings/. Replay one with
#   .build-fuzz/cowdb-fuzz .build-fuzz/findings/crash-…
# and keep it as a regression file in Tests/CowDBTests/Fixtures/fuzz/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-600}"
shift || true
Tools/cowdb-fuzz/build.sh
mkdir -p .build-fuzz/corpus .build-fuzz/findings
exec .build-fuzz/cowdb-fuzz .build-fuzz/corpus Tools/cowdb-fuzz/seeds \
    -max_len=262144 -timeout=10 -rss_limit_mb=4096 -max_total_time="$seconds" \
    -artifact_prefix=.build-fuzz/findings/ -print_final_stats=1 "$@"
