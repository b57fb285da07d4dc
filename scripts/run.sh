#!/usr/bin/env bash
# Builds deskmilter and runs it in the foreground with the example config (store under ./run).
# Usage: scripts/run.sh [CONFIG]   (default config/deskmilter.example.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build -DDESK_TESTS=OFF -DDESK_BENCH=OFF
config=${1:-config/deskmilter.example.toml}
mkdir -p run/store run/spool
./build/deskmilter -n -c "$config"
exec ./build/deskmilter -f -c "$config"
