#!/usr/bin/env bash
# The test command: installs what the tests need (LMDB's library and its mdb_dump/mdb_load,
# SQLite's library for the benchmark tool) when missing, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
dpkg -s liblmdb-dev >/dev/null 2>&1 || need+=(liblmdb-dev)
dpkg -s lmdb-utils >/dev/null 2>&1 || need+=(lmdb-utils)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  $SUDO apt-get install -y "${need[@]}"
fi
swift build --build-tests
Tools/docs.sh
swift test --skip-build --parallel "$@"
