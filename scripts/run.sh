#!/usr/bin/env bash
# Builds deskmilter and runs it in the foreground with the example config, its paths moved under
# ./run (the example names the packaged paths, /var/lib/deskmilter and Postfix's chroot) and its
# socket on inet:8899@127.0.0.1. The config it runs is written to run/deskmilter.toml.
# Usage: scripts/run.sh [CONFIG]   (default config/deskmilter.example.toml, rewritten as above)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build -DDESK_TESTS=OFF -DDESK_BENCH=OFF
mkdir -p run
if [[ $# -ge 1 ]]; then
  config=$1
else
  config=run/deskmilter.toml
  sed -e "s|/var/lib/deskmilter|$PWD/run|g" \
      -e 's|^socket = .*|socket = "inet:8899@127.0.0.1"|' \
      config/deskmilter.example.toml > "$config"
fi
./build/deskmilter -n -c "$config"
exec ./build/deskmilter -f -c "$config"
