#!/usr/bin/env bash
# The test command: installs what the tests need (LMDB's library and its mdb_dump/mdb_load,
# SQLite's library for the benchmark tool, moto_server from PyPI's `moto` as the S3 API server
# of the replication tests) when missing, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
dpkg -s liblmdb-dev >/dev/null 2>&1 || need+=(liblmdb-dev)
dpkg -s lmdb-utils >/dev/null 2>&1 || need+=(lmdb-utils)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
export PATH="$HOME/.local/bin:$PATH"
command -v moto_server >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update
  $SUDO apt-get install -y "${need[@]}"
fi
if ! command -v moto_server >/dev/null 2>&1; then
  python3 -m pip install --quiet 'moto[server]' || python3 -m pip install --quiet --break-system-packages 'moto[server]'
fi
# The replication tests fail, rather than skip, when moto_server cannot start.
export COWDB_REQUIRE_S3=1
swift build --build-tests
Tools/docs.sh
swift test --skip-build --parallel "$@"
