#!/usr/bin/env bash
# Builds the documentation: the DocC catalog (Sources/CowDB/CowDB.docc) and every public
# symbol, into .build/plugins/Swift-DocC/outputs/CowDB.doccarchive. The lower layers are built
# with CowDB and combined into one archive because CowDB re-exports a few of their public types
# (CowDBError, Tag, CheckProblem, the storage backend); CowDBReplication (replicas in S3-compatible
# storage) is documented beside them. Further arguments go to the plugin and
# docc, for example `--transform-for-static-hosting --output-path docs-site`.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package generate-documentation \
    --target CowDB --target CowDBFormat --target CowDBStorage --target CowDBTree --target CowDBReplication \
    --enable-experimental-combined-documentation "$@"
